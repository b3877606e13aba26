package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
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
	return parse(data, getenv, goTools)
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
	if err := expandEnv(&root, "", getenv); err != nil {
		return nil, err
	}
	expanded, err := yaml.Marshal(&root)
	if err != nil {
		return nil, fmt.Errorf("parse config: %w", err)
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(expanded))
	dec.KnownFields(true) // a typo must not silently disable a rule
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parse config: %w", err)
	}
	if len(goTools) > 0 {
		c.goTools = map[string]bool{}
		if c.Tools == nil {
			c.Tools = map[string]Tool{}
		}
		for name, t := range goTools {
			c.goTools[name] = true
			if _, declared := c.Tools[name]; !declared {
				t.Type = "go"
				c.Tools[name] = t
			}
		}
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces ${VAR} inside scalar values (never keys), so a value
// from the environment cannot change the document's structure.
func expandEnv(n *yaml.Node, path string, getenv func(string) string) error {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for i, c := range n.Content {
			p := path
			if n.Kind == yaml.SequenceNode {
				p = fmt.Sprintf("%s[%d]", path, i)
			}
			if err := expandEnv(c, p, getenv); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := n.Content[i].Value
			if path != "" {
				p = path + "." + p
			}
			if err := expandEnv(n.Content[i+1], p, getenv); err != nil {
				return err
			}
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return nil
		}
		var missing string
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(m string) string {
			name := m[2 : len(m)-1]
			v := getenv(name)
			if v == "" && missing == "" {
				missing = name
			}
			return v
		})
		if missing != "" {
			return fmt.Errorf("%s: environment variable %s is not set", path, missing)
		}
		n.Tag = "!!str"
		n.Style = yaml.DoubleQuotedStyle
	}
	return nil
}
