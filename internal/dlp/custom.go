package dlp

import (
	"fmt"
	"regexp"
)

// Checks an operator's detector may ask its matches to pass.
var checks = map[string]func(string) bool{
	"luhn":  func(m string) bool { d := digits(m); return len(d) > 1 && Luhn(d) },
	"mod97": func(m string) bool { return Mod97(stripSpaces(m)) },
}

func stripSpaces(s string) string {
	return regexp.MustCompile(`\s`).ReplaceAllString(s, "")
}

// Custom is an operator's detector of type name: matches of pattern that
// pass check ("", luhn or mod97). It is tested as it is made: the pattern
// must compile, must not match an empty text, and must find each example.
func Custom(name, pattern, check string, examples []string) (Detector, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("pattern: %w", err)
	}
	if re.MatchString("") {
		return nil, fmt.Errorf("pattern %q matches an empty text", pattern)
	}
	d := &patternDetector{typ: name, re: re}
	if check != "" {
		if d.check = checks[check]; d.check == nil {
			return nil, fmt.Errorf("check %q is not luhn or mod97", check)
		}
	}
	for _, ex := range examples {
		if len(d.Find(ex)) == 0 {
			return nil, fmt.Errorf("example %q is not found by the pattern and check", ex)
		}
	}
	return d, nil
}
