// Package dlp is data protection: detectors that find card numbers, IBANs,
// e-mail addresses, phone numbers, secrets and an operator's own patterns
// in text, and the Protector that acts on what they find before a value
// leaves for the model, the client, the audit log or the server log —
// tokenizing it (the model sees ⟦card:…⟧ and the tool still gets the
// value), redacting it, blocking the text, or letting it pass.
package dlp

import (
	"regexp"
	"slices"
	"strings"
)

// Built-in finding types.
const (
	Card   = "card"
	IBAN   = "iban"
	Email  = "email"
	Phone  = "phone"
	Secret = "secret"
)

// Span is where a detector found a value in a text: text[Start:End].
type Span struct {
	Type       string
	Start, End int
}

// Detector finds values of one type in a text.
type Detector interface {
	Type() string
	Find(text string) []Span
}

// patternDetector is a regular expression whose matches pass a check.
type patternDetector struct {
	typ   string
	re    *regexp.Regexp
	check func(match string) bool // nil: every match
	// pre, when set, is a cheap test a text must pass for the expression
	// to run at all (most text holds no value; Go's regexp is not cheap).
	pre func(text string) bool
	// bounded: a match touching a letter or digit on either side is part of
	// a longer word or number (an order number's tail), not a value.
	bounded bool
}

func (d *patternDetector) Type() string { return d.typ }

func (d *patternDetector) Find(text string) []Span {
	if d.pre != nil && !d.pre(text) {
		return nil
	}
	var out []Span
	for _, m := range d.re.FindAllStringIndex(text, -1) {
		if d.bounded && (wordByteAt(text, m[0]-1) || wordByteAt(text, m[1])) {
			continue
		}
		if d.check == nil || d.check(text[m[0]:m[1]]) {
			out = append(out, Span{Type: d.typ, Start: m[0], End: m[1]})
		}
	}
	return out
}

func wordByteAt(s string, i int) bool {
	if i < 0 || i >= len(s) {
		return false
	}
	c := s[i]
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

// Builtin returns the built-in detectors but secret (see package secrets).
func Builtin() []Detector {
	return []Detector{
		cardDetector{re: regexp.MustCompile(`\d(?:[ -]?\d)*`)},
		&patternDetector{typ: IBAN, bounded: true, check: validIBAN, pre: ibanStart,
			re: regexp.MustCompile(`[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}`)},
		&patternDetector{typ: Email, pre: func(t string) bool { return strings.IndexByte(t, '@') > 0 },
			re: regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}`)},
		&patternDetector{typ: Phone, bounded: true, check: validPhone, pre: phoneLike,
			re: regexp.MustCompile(`\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){2,6}|\(\d{3}\) ?\d{3}[ .-]\d{4}|\d{3}[.-]\d{3}[.-]\d{4}`)},
	}
}

// digitRun is the most digits in one run of digits and the separators a
// card or phone number is written with: no card fits in less than 13, no
// phone number in less than 8.
func digitRun(s string) int {
	best, n := 0, 0
	for i := range len(s) {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			n++
			best = max(best, n)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '+':
		default:
			n = 0
		}
	}
	return best
}

// phoneLike: 8 digits in a run after a + or (, or 10 in a run (the
// unprefixed 3-3-4 form).
func phoneLike(s string) bool {
	n := digitRun(s)
	return n >= 10 || n >= 8 && strings.ContainsAny(s, "+(")
}

// ibanStart reports whether s holds two capitals followed by two digits.
func ibanStart(s string) bool {
	for i := 0; i+3 < len(s); i++ {
		if s[i] >= 'A' && s[i] <= 'Z' && s[i+1] >= 'A' && s[i+1] <= 'Z' && s[i+2] >= '0' && s[i+2] <= '9' && s[i+3] >= '0' && s[i+3] <= '9' {
			return true
		}
	}
	return false
}

// digits is s without its separators.
func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// cardDetector finds card numbers: 13–19 digits, grouped by single
// spaces or dashes, with an issuer's prefix and length and a valid Luhn
// check digit — an order number or a timestamp of the same length fails
// one of them.
type cardDetector struct{ re *regexp.Regexp }

func (cardDetector) Type() string { return Card }

// Find looks at each run of digits and separators standing alone, and in
// it at each sequence of whole groups, longest first: a card followed by
// its expiry or a reference ("4111 1111 1111 1111 0427") is still found,
// and an unbroken 20-digit number is not a card.
func (d cardDetector) Find(text string) []Span {
	if digitRun(text) < 13 {
		return nil
	}
	var out []Span
	for _, m := range d.re.FindAllStringIndex(text, -1) {
		if wordByteAt(text, m[0]-1) || wordByteAt(text, m[1]) || m[1]-m[0] < 13 {
			continue
		}
		out = append(out, cardsIn(text, m[0], m[1])...)
	}
	return out
}

// cardsIn finds cards among the groups of text[start:end].
func cardsIn(text string, start, end int) []Span {
	var bounds []int // group starts, then the run's end
	for i := start; i < end; i++ {
		if i == start || text[i-1] == ' ' || text[i-1] == '-' {
			if text[i] >= '0' && text[i] <= '9' {
				bounds = append(bounds, i)
			}
		}
	}
	var out []Span
	for i := 0; i < len(bounds); {
		found := false
		for j := len(bounds); j > i; j-- {
			e := end
			if j < len(bounds) {
				e = bounds[j] - 1
			}
			if validCard(text[bounds[i]:e]) {
				out = append(out, Span{Type: Card, Start: bounds[i], End: e})
				i, found = j, true
				break
			}
		}
		if !found {
			i++
		}
	}
	return out
}

func validCard(m string) bool {
	if strings.Contains(m, " ") && strings.Contains(m, "-") {
		return false
	}
	d := digits(m)
	return len(d) >= 13 && len(d) <= 19 && issuer(d) && Luhn(d)
}

// issuer reports whether d starts like a card of a payment network, at a
// length that network issues.
func issuer(d string) bool {
	n := len(d)
	p2, p4 := atoi(d[:2]), atoi(d[:4])
	switch {
	case d[0] == '4': // Visa
		return n == 13 || n == 16 || n == 19
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720: // Mastercard
		return n == 16
	case p2 == 34 || p2 == 37: // American Express
		return n == 15
	case p2 == 36, p2 == 38, p2 == 39, atoi(d[:3]) >= 300 && atoi(d[:3]) <= 305: // Diners
		return n >= 14 && n <= 19
	case p4 == 6011, p2 == 65, p2 == 64, p2 == 62: // Discover, UnionPay
		return n >= 16 && n <= 19
	case p4 >= 3528 && p4 <= 3589: // JCB
		return n >= 16 && n <= 19
	case p2 == 50, p2 >= 56 && p2 <= 69: // Maestro
		return n >= 13 && n <= 19
	}
	return false
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// Luhn reports whether the digit string d passes the Luhn check.
func Luhn(d string) bool {
	sum := 0
	for i := range len(d) {
		c := int(d[len(d)-1-i] - '0')
		if c < 0 || c > 9 {
			return false
		}
		if i%2 == 1 {
			if c *= 2; c > 9 {
				c -= 9
			}
		}
		sum += c
	}
	return len(d) > 0 && sum%10 == 0
}

// validIBAN: a country's IBAN length and the ISO 13616 mod-97 check.
func validIBAN(m string) bool {
	s := strings.ReplaceAll(m, " ", "")
	if want, ok := ibanLengths[s[:2]]; !ok || len(s) != want {
		return false
	}
	return Mod97(s)
}

// Mod97 reports whether s (an IBAN without spaces) passes ISO 7064 mod
// 97-10: the first four characters moved to the end, letters as 10..35.
func Mod97(s string) bool {
	if len(s) < 5 {
		return false
	}
	r := 0
	for _, c := range s[4:] + s[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = (r*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			r = (r*100 + int(c-'A'+10)) % 97
		default:
			return false
		}
	}
	return r == 1
}

// validPhone: 8 to 15 digits (E.164), not all one digit.
func validPhone(m string) bool {
	d := digits(m)
	if len(d) < 8 || len(d) > 15 {
		return false
	}
	return strings.Count(d, d[:1]) != len(d)
}

// ibanLengths are the IBAN lengths of the SWIFT registry's countries.
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
	"BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
	"ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
	"HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
	"LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
	"MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
	"RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
	"TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}

// merge orders spans by start and drops those overlapping an earlier,
// longer one: one value is one finding.
func merge(spans []Span) []Span {
	slices.SortFunc(spans, func(a, b Span) int {
		if a.Start != b.Start {
			return a.Start - b.Start
		}
		return (b.End - b.Start) - (a.End - a.Start)
	})
	out := spans[:0]
	end := -1
	for _, s := range spans {
		if s.Start < end {
			continue
		}
		out = append(out, s)
		end = s.End
	}
	return out
}

// Scan runs every detector over text and returns what they found, in
// order, overlaps resolved to the longest value.
func Scan(ds []Detector, text string) []Span {
	var spans []Span
	for _, d := range ds {
		spans = append(spans, d.Find(text)...)
	}
	return merge(spans)
}
