package schema

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheckUnicode(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"plain", `{"m":"héllo"}`, true},
		{"escaped pair", `{"m":"\ud83d\ude00"}`, true},
		{"escaped pair, upper case", `{"m":"\uD83D\uDE00"}`, true},
		{"escaped BMP rune", `{"m":"\u00e9\u4e2d"}`, true},
		{"escaped backslash before u", `{"m":"\\ud800"}`, true},
		{"escaped quote then text", `{"m":"\"\ud83d\ude00"}`, true},
		{"literal U+FFFD", `{"m":"` + "\uFFFD" + `"}`, true},
		{"invalid UTF-8", "{\"m\":\"\xff\"}", false},
		{"UTF-8 encoded surrogate", "{\"m\":\"\xed\xa0\x80\"}", false},
		{"lone high", `{"m":"\ud800"}`, false},
		{"lone high at the end", `\ud800`, false},
		{"lone low", `{"m":"\udc00"}`, false},
		{"high then non-low escape", `{"m":"\ud800\u0041"}`, false},
		{"high then high", `{"m":"\ud800\ud800\udc00"}`, false},
		{"high then text", `{"m":"\ud800x"}`, false},
		{"lone high after escaped backslash", `{"m":"\\\ud800"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := CheckUnicode([]byte(tt.in)); (err == nil) != tt.ok {
				t.Errorf("CheckUnicode(%s) = %v, want ok=%v", tt.in, err, tt.ok)
			}
		})
	}
}

// FuzzCheckUnicode holds CheckUnicode to what it guards against: a JSON
// string it accepts decodes without encoding/json inventing a U+FFFD.
func FuzzCheckUnicode(f *testing.F) {
	for _, s := range []string{`"\ud800"`, `"\ud83d\ude00"`, `"\\ud800"`, `"a\u00e9"`, "\"\xff\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var s string
		if json.Unmarshal([]byte(in), &s) != nil || strings.Contains(in, "\uFFFD") || strings.Contains(strings.ToLower(in), `\ufffd`) {
			return
		}
		if CheckUnicode([]byte(in)) == nil && strings.ContainsRune(s, utf8.RuneError) {
			t.Errorf("CheckUnicode accepted %q, which decodes to %q", in, s)
		}
	})
}
