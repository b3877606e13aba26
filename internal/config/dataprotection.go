package config

import (
	"regexp"
	"time"

	"github.com/gatehousehq/gatehouse/internal/dlp"
)

// DataProtection configures the detectors and what is done with what they
// find (SPEC "Data protection").
type DataProtection struct {
	// Disabled turns every detector off (the harness's detection-off runs).
	Disabled bool `yaml:"disabled"`
	// KeyEnv names the variable holding the vault key; KeyFile is read
	// when it is unset (made on first start, like audit.hmac_key_file).
	// Without either, tokenize acts as redact.
	KeyEnv  string `yaml:"key_env"`
	KeyFile string `yaml:"key_file"`
	// Actions by finding type: tokenize | redact | block | allow.
	Actions map[string]string `yaml:"actions"`
	// Reveal lists by type the roles that see tokenized values in answers.
	Reveal map[string][]string `yaml:"reveal"`
	// Detectors are the operator's own finding types.
	Detectors map[string]DataDetector `yaml:"detectors"`
	// TTL is how long a token lives after it was last made (default 24h);
	// MaxTokens bounds one session's (or run's) tokens (default 1000).
	TTL       time.Duration `yaml:"ttl"`
	MaxTokens int           `yaml:"max_tokens"`
}

// DataDetector is an operator's detector: a regular expression, a check
// its matches must pass ("" | luhn | mod97), the action, and examples it
// must find (tested when the config loads).
type DataDetector struct {
	Pattern  string   `yaml:"pattern"`
	Check    string   `yaml:"check"`
	Action   string   `yaml:"action"`
	Examples []string `yaml:"examples"`
}

// BuiltinFindingTypes are the finding types every config has.
var BuiltinFindingTypes = []string{dlp.Card, dlp.IBAN, dlp.Email, dlp.Phone, dlp.Secret}

// defaultActions are data_protection.actions by default.
var defaultActions = map[string]string{dlp.Card: "tokenize", dlp.IBAN: "tokenize", dlp.Secret: "block", dlp.Email: "allow", dlp.Phone: "allow"}

var findingTypePattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

func (d *DataProtection) defaults() {
	if d.KeyEnv == "" {
		d.KeyEnv = "GATEHOUSE_VAULT_KEY"
	}
	if d.Actions == nil {
		d.Actions = map[string]string{}
	}
	for typ, a := range defaultActions {
		if _, set := d.Actions[typ]; !set {
			d.Actions[typ] = a
		}
	}
	for name, det := range d.Detectors {
		if _, set := d.Actions[name]; !set && det.Action != "" {
			d.Actions[name] = det.Action
		}
	}
	if d.TTL == 0 {
		d.TTL = 24 * time.Hour
	}
	if d.MaxTokens == 0 {
		d.MaxTokens = 1000
	}
}

func (c *Config) checkDataProtection(bad func(string, string, ...any)) {
	d := &c.DataProtection
	known := map[string]bool{}
	for _, t := range BuiltinFindingTypes {
		known[t] = true
	}
	for _, name := range sortedKeys(d.Detectors) {
		det, key := d.Detectors[name], "data_protection.detectors."+name
		switch {
		case !findingTypePattern.MatchString(name):
			bad(key, "finding type names are lower-case letters, digits, _ and -")
		case known[name]:
			bad(key, "%s is a built-in finding type", name)
		}
		known[name] = true
		if _, err := dlp.Custom(name, det.Pattern, det.Check, det.Examples); err != nil {
			bad(key, "%v", err)
		}
		if det.Action != "" && !dlp.Action(det.Action).Valid() {
			bad(key+".action", "must be tokenize, redact, block or allow, not %q", det.Action)
		}
	}
	for _, typ := range sortedKeys(d.Actions) {
		if !known[typ] {
			bad("data_protection.actions."+typ, "no detector finds %q", typ)
		} else if !dlp.Action(d.Actions[typ]).Valid() {
			bad("data_protection.actions."+typ, "must be tokenize, redact, block or allow, not %q", d.Actions[typ])
		}
	}
	for _, typ := range sortedKeys(d.Reveal) {
		if !known[typ] {
			bad("data_protection.reveal."+typ, "no detector finds %q", typ)
		}
		c.checkRoles("data_protection.reveal."+typ, d.Reveal[typ], bad)
	}
	if d.TTL < 0 {
		bad("data_protection.ttl", "must be positive")
	}
	if d.MaxTokens < 0 {
		bad("data_protection.max_tokens", "must be positive")
	}
}
