package schema

import (
	"errors"
	"unicode/utf16"
	"unicode/utf8"
)

// CheckUnicode is the one rule for untrusted JSON text — tool arguments
// here, chat requests at the HTTP edge: raw must be valid UTF-8, and no
// \u escape in it may leave a lone surrogate (a \uD800–\uDFFF escape not
// forming a high-low pair). encoding/json silently turns both into U+FFFD,
// so what a proxy in front reads would differ from what runs.
//
// A backslash outside a string is malformed JSON, for the decoder to
// refuse; here every backslash starts an escape.
func CheckUnicode(raw []byte) error {
	if !utf8.Valid(raw) {
		return errors.New("not valid UTF-8")
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		r, ok := escapedRune(raw, i)
		if !ok {
			i++ // a two-byte escape such as \\ or \"; the decoder judges the rest
			continue
		}
		switch {
		case utf16.IsSurrogate(r) && r < 0xDC00:
			low, ok := escapedRune(raw, i+6)
			if !ok || low < 0xDC00 || low > 0xDFFF {
				return errors.New("a lone surrogate escape (\\ud800-\\udfff)")
			}
			i += 11
		case utf16.IsSurrogate(r):
			return errors.New("a lone surrogate escape (\\ud800-\\udfff)")
		default:
			i += 5
		}
	}
	return nil
}

// escapedRune reads a \uXXXX escape at raw[i:].
func escapedRune(raw []byte, i int) (rune, bool) {
	if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range raw[i+2 : i+6] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
