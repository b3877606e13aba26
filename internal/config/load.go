package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxConfigBytes bounds a config file; a larger one is refused.
const maxConfigBytes = 4 << 20

// Load reads, expands, decodes, defaults and validates the config at path.
// getenv resolves ${VAR} references (os.Getenv in production).
func Load(path string, getenv func(string) string) (*Config, error) {
	return LoadWith(path, getenv, nil)
}

// LoadWith is Load for a program that registers its own Go tools: each
// becomes a tool of type go with the given policy, unless the file declares
// it (with type: go) to set a policy of its own.
func LoadWith(path string, getenv func(string) string, goTools map[string]Tool) (*Config, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return parse(data, getenv, goTools)
}

// LoadAudit reads only the audit section of the config at path (with its
// defaults), for the audit commands: an auditor checking the log needs its
// location and keys, not every secret the rest of the file names (a tool's
// ${CRM_TOKEN}). A ${VAR} outside the audit section may be unset (it reads
// as empty); the file is otherwise read as Load reads it (anchors and
// aliases across sections, duplicate keys refused).
func LoadAudit(path string, getenv func(string) string) (Audit, error) {
	data, err := readFile(path)
	if err != nil {
		return Audit{}, err
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return Audit{}, fmt.Errorf("parse config: %w", err)
	}
	values := map[string]string{}
	inAudit := func(p string) bool { return p == "audit" || strings.HasPrefix(p, "audit.") }
	if err := expandEnvWith(&root, "", getenv, values, inAudit); err != nil {
		return Audit{}, err
	}
	expanded, err := yaml.Marshal(&root)
	if err != nil {
		return Audit{}, redact(fmt.Errorf("parse config: %w", err), values)
	}
	var doc struct {
		Audit Audit          `yaml:"audit"`
		Rest  map[string]any `yaml:",inline"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(expanded))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return Audit{}, redact(fmt.Errorf("parse config: %w", err), values)
	}
	c := Config{Audit: doc.Audit, expanded: values}
	c.SetDefaults()
	var errs []error
	c.Audit.check(func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	})
	return c.Audit, c.Redact(errors.Join(errs...))
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if len(data) > maxConfigBytes {
		return nil, fmt.Errorf("read config: %s is larger than %d bytes", path, maxConfigBytes)
	}
	return data, nil
}

// Parse is Load over bytes.
func Parse(data []byte, getenv func(string) string) (*Config, error) {
	return parse(data, getenv, nil)
}

func parse(data []byte, getenv func(string) string, goTools map[string]Tool) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("parse config: %w", err)
	}
	values := map[string]string{}
	if err := expandEnv(&root, "", getenv, values); err != nil {
		return nil, err
	}
	expanded, err := yaml.Marshal(&root)
	if err != nil {
		return nil, redact(fmt.Errorf("parse config: %w", err), values)
	}
	c := Config{expanded: values}
	dec := yaml.NewDecoder(bytes.NewReader(expanded))
	dec.KnownFields(true) // a typo must not silently disable a rule
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, redact(fmt.Errorf("parse config: %w", err), values)
	}
	if len(goTools) > 0 {
		c.goTools = map[string]bool{}
		if c.Tools == nil {
			c.Tools = map[string]Tool{}
		}
		for _, name := range sortedKeys(goTools) {
			t := goTools[name]
			c.goTools[name] = true
			// Redeclaring a Go tool sets its whole policy; leaving out the
			// condition the program registered would drop it silently.
			if d, declared := c.Tools[name]; declared && d.Type == "go" && t.Condition != "" && d.Condition == "" {
				return nil, fmt.Errorf("tools.%s.condition: the program registers this tool with a condition, which this declaration would drop; restate it (condition: 'true' removes it on purpose)", name)
			}
			if _, declared := c.Tools[name]; !declared {
				t.Type = "go"
				c.Tools[name] = t
			}
		}
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return nil, c.Redact(err)
	}
	return &c, nil
}

// Redact returns err with every value that came from a ${VAR} expansion
// replaced by its reference: such values are often secrets (a token in a
// header or URL), and config errors are shown to admins (the reasons of a
// refused reload) and recorded in the audit log.
func (c *Config) Redact(err error) error { return redact(err, c.expanded) }

// minRedacted is the shortest expanded value Redact hides; shorter ones
// ("1", "on") are no secrets, and hiding them would garble the message.
const minRedacted = 4

func redact(err error, values map[string]string) error {
	if err == nil || len(values) == 0 {
		return err
	}
	vals := make([]string, 0, len(values))
	for v := range values {
		if len(v) >= minRedacted {
			vals = append(vals, v)
		}
	}
	// Longest first, so a value containing another is hidden whole.
	sort.Slice(vals, func(i, j int) bool { return len(vals[i]) > len(vals[j]) })
	msg := err.Error()
	for _, v := range vals {
		msg = strings.ReplaceAll(msg, v, "${"+values[v]+"}")
		// The YAML decoder quotes a long value by its first 7 bytes and "...".
		if len(v) > 10 {
			msg = strings.ReplaceAll(msg, v[:7]+"...", "${"+values[v]+"}")
		}
	}
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

// redactedError keeps the cause for errors.Is and errors.As, but its text is
// the redacted one.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

var (
	envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	// A decimal integer as written: no leading zeros (YAML would read 010
	// as octal) and no fraction (an int field would silently truncate it).
	intValue = regexp.MustCompile(`^-?(0|[1-9][0-9]{0,17})$`)
)

// expandEnv replaces ${VAR} inside scalar values (never keys), so a value
// from the environment cannot change the document's structure: the result
// is always one scalar. It is a string, except that an unquoted value that
// is exactly one ${VAR} reference takes the type its content spells — a
// decimal integer or true/false — so numeric and boolean keys can come from
// the environment too (a quoted "${VAR}" stays a string).
// Each expanded value is noted in values (value -> variable name) for Redact.
func expandEnv(n *yaml.Node, path string, getenv func(string) string, values map[string]string) error {
	return expandEnvWith(n, path, getenv, values, nil)
}

// expandEnvWith is expandEnv where an unset variable is an error only at the
// paths required accepts (all when nil); elsewhere it reads as empty.
func expandEnvWith(n *yaml.Node, path string, getenv func(string) string, values map[string]string, required func(path string) bool) error {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for i, c := range n.Content {
			p := path
			if n.Kind == yaml.SequenceNode {
				p = fmt.Sprintf("%s[%d]", path, i)
			}
			if err := expandEnvWith(c, p, getenv, values, required); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := n.Content[i].Value
			if path != "" {
				p = path + "." + p
			}
			if err := expandEnvWith(n.Content[i+1], p, getenv, values, required); err != nil {
				return err
			}
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return nil
		}
		var missing string
		raw := n.Value
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(m string) string {
			name := m[2 : len(m)-1]
			v := getenv(name)
			if v == "" && missing == "" {
				missing = name
			}
			if v != "" {
				values[v] = name
			}
			return v
		})
		if missing != "" && (required == nil || required(path)) {
			return fmt.Errorf("%s: environment variable %s is not set", path, missing)
		}
		whole := n.Style == 0 && envRef.FindString(raw) == raw
		n.Tag = "!!str"
		switch {
		case !whole:
		case intValue.MatchString(n.Value):
			n.Tag = "!!int"
		case n.Value == "true" || n.Value == "false":
			n.Tag = "!!bool"
		}
		// Quoted, so the text stays one scalar; tagged, so a typed one
		// decodes as its type.
		n.Style = yaml.TaggedStyle | yaml.DoubleQuotedStyle
	}
	return nil
}
