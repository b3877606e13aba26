package openai

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// Past the bound, every read fails: a caller reading again must not see a
// clean end of a cut-off body.
func TestBoundedBody_ErrorIsSticky(t *testing.T) {
	for _, body := range []string{"abcde", "abcdefgh"} {
		b := &boundedBody{rc: io.NopCloser(strings.NewReader(body)), left: 4}
		got, err := io.ReadAll(b)
		if string(got) != "abcd" || !errors.Is(err, errResponseTooLarge) {
			t.Fatalf("%q: ReadAll = %q, %v", body, got, err)
		}
		if n, err := b.Read(make([]byte, 8)); n != 0 || !errors.Is(err, errResponseTooLarge) {
			t.Errorf("%q: read after the error = %d, %v", body, n, err)
		}
	}
	b := &boundedBody{rc: io.NopCloser(strings.NewReader("abcd")), left: 4}
	if got, err := io.ReadAll(b); string(got) != "abcd" || err != nil {
		t.Errorf("exactly the bound: %q, %v", got, err)
	}
}
