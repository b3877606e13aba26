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

	ahocorasick "github.com/BobuSumisu/aho-corasick"
	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"

	"github.com/gatehousehq/gatehouse/internal/dlp"
)

// Detector finds secrets. It is safe for concurrent use.
type Detector struct {
	rules  []rule
	global []*config.Allowlist
	// keywords finds every rule's keywords in one pass over the text;
	// byKeyword names the rules each keyword lets run.
	keywords  *ahocorasick.Trie
	byKeyword map[string][]int
}

type rule struct {
	id       string
	re       *regexp.Regexp
	keywords []string // lower case; none: always run
	group    int
	entropy  float64
	allow    []*config.Allowlist
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
	d := &Detector{global: cfg.Allowlists}
	d.rules = append(d.rules, rule{id: "gatehouse-api-key", re: gatehouseKey, keywords: []string{"gh_"}})
	for _, r := range cfg.GetOrderedRules() {
		if r.Regex == nil || r.Path != nil || r.SkipReport {
			continue // a rule on file paths, or one only other rules refer to
		}
		kw := make([]string, len(r.Keywords))
		for i, k := range r.Keywords {
			kw[i] = strings.ToLower(k)
		}
		d.rules = append(d.rules, rule{id: r.RuleID, re: r.Regex, keywords: kw, group: r.SecretGroup, entropy: r.Entropy, allow: r.Allowlists})
	}
	d.byKeyword = map[string][]int{}
	for i, r := range d.rules {
		for _, k := range r.keywords {
			d.byKeyword[k] = append(d.byKeyword[k], i)
		}
	}
	d.keywords = ahocorasick.NewTrieBuilder().AddStrings(slices.Collect(maps.Keys(d.byKeyword))).Build()
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
	for _, m := range d.keywords.MatchString(strings.ToLower(text)) {
		run = append(run, d.byKeyword[m.MatchString()]...)
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
		for _, m := range r.re.FindAllStringSubmatchIndex(text, -1) {
			if s, ok := d.secret(r, text, m); ok {
				out = append(out, s)
			}
		}
	}
	return out
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
// words. A list that also names paths or commits never matches under
// condition AND: chat text has neither.
func allowed(lists []*config.Allowlist, secret, match string) bool {
	for _, a := range lists {
		target := secret
		if a.RegexTarget == "match" || a.RegexTarget == "line" {
			target = match
		}
		var hits []bool
		if len(a.Regexes) > 0 {
			hits = append(hits, a.RegexAllowed(target))
		}
		if len(a.StopWords) > 0 {
			stop, _ := a.ContainsStopWord(secret)
			hits = append(hits, stop)
		}
		if len(hits) == 0 {
			continue
		}
		if a.MatchCondition == config.AllowlistMatchAnd {
			if len(a.Paths) == 0 && len(a.Commits) == 0 && !slices.Contains(hits, false) {
				return true
			}
		} else if slices.Contains(hits, true) {
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
