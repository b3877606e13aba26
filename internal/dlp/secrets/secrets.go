// Package secrets is the dlp detector of type secret: gitleaks' maintained
// rule set (github.com/zricethezav/gitleaks/v8/config: cloud keys, private
// key blocks, JWTs, tokens of some two hundred services), matched here
// over chat text, plus Gatehouse's own API key format.
//
// Only gitleaks' config package is used, not its detect package: detect
// brings archive decoders and a WebAssembly runtime (about a hundred more
// packages) for scanning repositories, and logs each skipped finding's
// secret through a process-wide logger at trace level. The rules here are
// applied as detect applies them to one fragment: keywords first, the
// regular expression, the secret group, the entropy floor, the rule's and
// the global allowlists (their regexes and stop words; path and commit
// criteria do not apply to chat text).
package secrets

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"

	"github.com/gatehousehq/gatehouse/internal/dlp"
)

// Detector finds secrets. It is safe for concurrent use.
type Detector struct {
	rules  []rule
	global []allowlist
	// keywords are every rule's keywords (lower-case ASCII, two bytes at
	// least) by their first two bytes, found in one pass over the text;
	// byKeyword names the rules each keyword lets run. (An Aho-Corasick
	// automaton is as fast here and holds 11 MB.)
	keywords  *[1 << 16]uint16 // first two bytes -> 1 + index in groups; 0: none
	groups    [][]string
	byKeyword map[string][]int
}

type rule struct {
	id string
	// re is the rule's expression, compiled on first use: compiled, the
	// whole set holds about 11 MB (Go expands counted repetitions), and
	// most rules' keywords never occur in a conversation.
	re       func() *regexp.Regexp
	keywords []string // lower case; none: always run
	group    int
	entropy  float64
	allow    []allowlist
}

// allowlist is what of a gitleaks allowlist applies to chat text. It is
// copied out so the rule set's own allowlists, whose stop-word automata
// hold megabytes, are not kept.
type allowlist struct {
	regexes   []*regexp.Regexp
	stopWords []string // lower case
	// matchTarget: the regexes test the whole match, not the secret.
	matchTarget bool
	// and: every criterion must hold; never for a list naming paths or
	// commits (chat text has neither).
	and, pathOrCommit bool
}

func allowlists(in []*config.Allowlist) []allowlist {
	out := make([]allowlist, len(in))
	for i, a := range in {
		out[i] = allowlist{regexes: a.Regexes, matchTarget: a.RegexTarget == "match" || a.RegexTarget == "line",
			and: a.MatchCondition == config.AllowlistMatchAnd, pathOrCommit: len(a.Paths) > 0 || len(a.Commits) > 0}
		for _, w := range a.StopWords {
			out[i].stopWords = append(out[i].stopWords, strings.ToLower(w))
		}
	}
	return out
}

var _ dlp.Detector = (*Detector)(nil)

// gatehouseKey is Gatehouse's own API key format (authn.NewKey).
var gatehouseKey = regexp.MustCompile(`\bgh_[A-Za-z0-9_-]{43}\b`)

// New loads gitleaks' default rule set.
func New() (*Detector, error) {
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(strings.NewReader(config.DefaultConfig)); err != nil {
		return nil, fmt.Errorf("read gitleaks rules: %w", err)
	}
	var vc config.ViperConfig
	if err := v.Unmarshal(&vc); err != nil {
		return nil, fmt.Errorf("read gitleaks rules: %w", err)
	}
	cfg, err := vc.Translate()
	if err != nil {
		return nil, fmt.Errorf("load gitleaks rules: %w", err)
	}
	d := &Detector{global: allowlists(cfg.Allowlists)}
	d.rules = append(d.rules, rule{id: "gatehouse-api-key", re: func() *regexp.Regexp { return gatehouseKey }, keywords: []string{"gh_"}})
	for _, r := range cfg.GetOrderedRules() {
		if r.Regex == nil || r.Path != nil || r.SkipReport {
			continue // a rule on file paths, or one only other rules refer to
		}
		kw := make([]string, len(r.Keywords))
		for i, k := range r.Keywords {
			kw[i] = strings.ToLower(k)
		}
		// Translate compiled it already: it compiles again.
		src := r.Regex.String()
		d.rules = append(d.rules, rule{id: r.RuleID, re: sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(src) }),
			keywords: kw, group: r.SecretGroup, entropy: r.Entropy, allow: allowlists(r.Allowlists)})
	}
	d.byKeyword = map[string][]int{}
	for i, r := range d.rules {
		for _, k := range r.keywords {
			d.byKeyword[k] = append(d.byKeyword[k], i)
		}
	}
	d.keywords = new([1 << 16]uint16)
	for _, k := range slices.Sorted(maps.Keys(d.byKeyword)) {
		if len(k) < 2 {
			return nil, fmt.Errorf("gitleaks rule keyword %q is shorter than two bytes", k)
		}
		at := &d.keywords[uint16(k[0])<<8|uint16(k[1])]
		if *at == 0 {
			d.groups = append(d.groups, nil)
			*at = uint16(len(d.groups))
		}
		d.groups[*at-1] = append(d.groups[*at-1], k)
	}
	return d, nil
}

// Rules is the number of rules loaded.
func (d *Detector) Rules() int { return len(d.rules) }

// Type is dlp.Secret.
func (d *Detector) Type() string { return dlp.Secret }

// Find returns the spans of the secrets in text: the secret itself, not
// the key name or quotes a rule matched around it.
func (d *Detector) Find(text string) []dlp.Span {
	var run []int
	for i := 0; i+1 < len(text); i++ {
		g := d.keywords[uint16(lower(text[i]))<<8|uint16(lower(text[i+1]))]
		if g == 0 {
			continue
		}
		for _, k := range d.groups[g-1] {
			if hasPrefixFold(text[i:], k) {
				run = append(run, d.byKeyword[k]...)
			}
		}
	}
	for i := range d.rules {
		if len(d.rules[i].keywords) == 0 {
			run = append(run, i) // none today; a rule without keywords always runs
		}
	}
	slices.Sort(run)
	var out []dlp.Span
	for _, i := range slices.Compact(run) {
		r := &d.rules[i]
		for _, m := range r.re().FindAllStringSubmatchIndex(text, -1) {
			if s, ok := d.secret(r, text, m); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hasPrefixFold reports whether s starts with the lower-case keyword k,
// ASCII case folded.
func hasPrefixFold(s, k string) bool {
	if len(s) < len(k) {
		return false
	}
	for i := range len(k) {
		if lower(s[i]) != k[i] {
			return false
		}
	}
	return true
}

// secret is the span a match m of r names as its secret, if it passes the
// entropy floor and no allowlist lets it go.
func (d *Detector) secret(r *rule, text string, m []int) (dlp.Span, bool) {
	start, end := m[0], m[1]
	if r.group > 0 && 2*r.group+1 < len(m) && m[2*r.group] >= 0 {
		start, end = m[2*r.group], m[2*r.group+1]
	} else if r.group == 0 {
		for g := 1; 2*g+1 < len(m); g++ {
			if m[2*g] >= 0 && m[2*g+1] > m[2*g] {
				start, end = m[2*g], m[2*g+1]
				break
			}
		}
	}
	secret, match := text[start:end], text[m[0]:m[1]]
	if secret == "" || (r.entropy > 0 && entropy(secret) <= r.entropy) {
		return dlp.Span{}, false
	}
	if allowed(r.allow, secret, match) || allowed(d.global, secret, match) {
		return dlp.Span{}, false
	}
	return dlp.Span{Type: dlp.Secret, Start: start, End: end}, true
}

// allowed reports whether one of lists lets a finding go, by its regexes
// (against the secret, or the match when regexTarget says so) and stop
// words.
func allowed(lists []allowlist, secret, match string) bool {
	lower := strings.ToLower(secret)
	for _, a := range lists {
		target := secret
		if a.matchTarget {
			target = match
		}
		var hits []bool
		if len(a.regexes) > 0 {
			hits = append(hits, slices.ContainsFunc(a.regexes, func(re *regexp.Regexp) bool { return re.MatchString(target) }))
		}
		if len(a.stopWords) > 0 {
			hits = append(hits, slices.ContainsFunc(a.stopWords, func(w string) bool { return strings.Contains(lower, w) }))
		}
		switch {
		case len(hits) == 0:
		case a.and:
			if !a.pathOrCommit && !slices.Contains(hits, false) {
				return true
			}
		case slices.Contains(hits, true):
			return true
		}
	}
	return false
}

// entropy is the Shannon entropy of s in bits per byte, as gitleaks
// measures it.
func entropy(s string) float64 {
	var counts [256]int
	for i := range len(s) {
		counts[s[i]]++
	}
	var h float64
	n := float64(len(s))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}
