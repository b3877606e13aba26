package openai

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/llm"
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

// The client sends with the transport alone: a model server answering
// with a redirect gets an error status back, and the place it names is
// never asked (nor handed the API key).
func TestComplete_ARedirectIsAnErrorNotFollowed(t *testing.T) {
	var followed atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		followed.Add(1)
	}))
	defer elsewhere.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	c, err := New(Config{BaseURL: srv.URL + "/v1", APIKey: "sk-secret", Model: "m", MaxRetries: 0})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Complete(context.Background(), llm.Request{Messages: []llm.Message{{Role: "user", Content: "hi"}}})
	if err == nil || !errors.Is(err, llm.ErrProvider) {
		t.Fatalf("Complete = %v, want a provider error", err)
	}
	if strings.Contains(err.Error(), "sk-secret") {
		t.Errorf("the error holds the key: %v", err)
	}
	if n := followed.Load(); n != 0 {
		t.Errorf("the redirect was followed %d times", n)
	}
}
