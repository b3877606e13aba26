package config

import (
	"fmt"
	"regexp"
)

// Passthrough configures governed pass-through on /v1/chat/completions:
// client-side agents reach an upstream model through gatehouse, their
// tools (type: client) filtered and every proposed call authorized.
type Passthrough struct {
	Models map[string]PassthroughModel `yaml:"models"`
	// UndeclaredTools is refuse (400 undeclared_tool) or drop.
	UndeclaredTools string `yaml:"undeclared_tools"`
	// MaxRetries is how often the model is asked again after proposing a
	// refused call, before the client gets a refusal.
	MaxRetries *int `yaml:"max_retries"`
}

// PassthroughModel is one pass-through model.
type PassthroughModel struct {
	// Permission is required to use the model.
	Permission string `yaml:"permission"`
	// Upstream is the model id sent to the provider; default the name.
	Upstream string `yaml:"upstream"`
	// HostedTools are the tool types the provider would run itself
	// (web_search, file_search, ...) that a Responses request may name
	// without a 400. They are accepted and not forwarded: the upstream is
	// asked with Chat Completions.
	HostedTools []string `yaml:"hosted_tools"`
}

// hostedToolPattern is a provider tool type: lowercase words joined by _.
var hostedToolPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// DefaultPassthroughRetries is passthrough.max_retries by default.
const DefaultPassthroughRetries = 2

func (p *Passthrough) defaults() {
	if p.UndeclaredTools == "" {
		p.UndeclaredTools = "refuse"
	}
	if p.MaxRetries == nil {
		n := DefaultPassthroughRetries
		p.MaxRetries = &n
	}
}

func (p *Passthrough) check(c *Config, bad func(string, string, ...any)) {
	switch p.UndeclaredTools {
	case "refuse", "drop":
	default:
		bad("passthrough.undeclared_tools", "must be refuse or drop, not %q", p.UndeclaredTools)
	}
	if p.MaxRetries != nil && (*p.MaxRetries < 0 || *p.MaxRetries > 8) {
		bad("passthrough.max_retries", "must be 0..8")
	}
	for _, name := range sortedKeys(p.Models) {
		m := p.Models[name]
		key := "passthrough.models." + name
		if !modelPattern.MatchString(name) {
			bad(key, "model names are letters, digits, and . _ : / -")
		}
		if _, clash := c.Agents[name]; clash {
			bad(key, "an agent has the same name; a model name must say which one runs")
		}
		for i, ht := range m.HostedTools {
			switch {
			case ht == "function":
				bad(fmt.Sprintf("%s.hosted_tools[%d]", key, i), "function tools are always served; list only tools the provider runs")
			case !hostedToolPattern.MatchString(ht):
				bad(fmt.Sprintf("%s.hosted_tools[%d]", key, i), "a tool type is lowercase letters, digits and _ (web_search, file_search, ...)")
			}
		}
		if m.Permission == "" {
			bad(key+".permission", "is required (everything is denied unless a rule allows it)")
		} else if !permPattern.MatchString(m.Permission) {
			bad(key+".permission", "invalid permission %q", m.Permission)
		}
	}
	for _, name := range sortedKeys(c.Agents) {
		for i, tn := range c.Agents[name].Tools {
			if c.Tools[tn].Type == "client" {
				bad(fmt.Sprintf("agents.%s.tools[%d]", name, i), "%q is a client tool: it runs on the client, through the pass-through, never in an agent", tn)
			}
		}
	}
}
