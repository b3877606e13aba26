package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Pin is the hash a type: mcp tool's pin compares: SHA-256 over the JSON of
// the tool's name, description and input schema as the server presents
// them (object keys sorted, so the server's key order does not matter).
func Pin(t *mcp.Tool) string {
	b, _ := json.Marshal(map[string]any{"name": t.Name, "description": t.Description, "inputSchema": t.InputSchema})
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// List lists the server's tools once, on a connection of its own — for
// `gatehouse mcp list` and config checks, which do not supervise.
func List(ctx context.Context, cfg Config) ([]*mcp.Tool, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	t, stop := s.transport()
	defer stop()
	c := mcp.NewClient(&mcp.Implementation{Name: "gatehouse", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	sess, err := c.Connect(ctx, t, nil)
	if err != nil {
		if e := s.Stderr(); e != "" {
			return nil, fmt.Errorf("connect to %s: %w (stderr: %s)", cfg.Name, err, e)
		}
		return nil, fmt.Errorf("connect to %s: %w", cfg.Name, err)
	}
	defer sess.Close()
	var out []*mcp.Tool
	for t, err := range sess.Tools(ctx, nil) {
		if err != nil {
			return nil, fmt.Errorf("list tools of %s: %w", cfg.Name, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// list reads the tool list and re-judges the declared tools.
func (s *Source) list(ctx context.Context, sess *mcp.ClientSession) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	listed := map[string]*mcp.Tool{}
	for t, err := range sess.Tools(ctx, nil) {
		if err != nil {
			return fmt.Errorf("list tools: %w", err)
		}
		listed[t.Name] = t
	}
	s.mu.Lock()
	s.listed = listed
	changes := s.judgeLocked()
	onChange := s.onChange
	s.mu.Unlock()
	for _, c := range changes {
		s.cfg.Log.Warn("MCP tool changed; disabled", "server", c.Server, "tool", c.Tool, "remote", c.Remote, "want", c.Want, "got", c.Got)
		if onChange != nil {
			onChange(c)
		}
	}
	return nil
}

// Declare sets the declared tools (each config load declares its own; the
// latest wins) and judges them against the latest listing.
func (s *Source) Declare(decls []Decl) {
	s.mu.Lock()
	s.decls = map[string]Decl{}
	for _, d := range decls {
		s.decls[d.Name] = d
	}
	var changes []Change
	if s.listed != nil {
		changes = s.judgeLocked()
	}
	onChange := s.onChange
	s.mu.Unlock()
	for _, c := range changes {
		if onChange != nil {
			onChange(c)
		}
	}
}

// judgeLocked recomputes every declared tool's state from s.listed and
// returns the changes not reported before. s.mu is held.
func (s *Source) judgeLocked() []Change {
	var changes []Change
	states := map[string]ToolState{}
	for name, d := range s.decls {
		st := ToolState{}
		t := s.listed[d.Remote]
		want := d.Pin
		if t != nil {
			st.Tool, st.Pin = t, Pin(t)
			if _, seen := s.baseline[d.Remote]; !seen {
				s.baseline[d.Remote] = st.Pin
			}
		}
		if want == "" {
			want = s.baseline[d.Remote]
		}
		switch {
		case t == nil && want == "":
			st.Disabled = fmt.Sprintf("MCP server %s does not offer a tool %s", s.cfg.Name, d.Remote)
		case t == nil:
			st.Disabled = fmt.Sprintf("MCP server %s no longer offers tool %s", s.cfg.Name, d.Remote)
		case st.Pin != want:
			st.Disabled = fmt.Sprintf("MCP server %s presents tool %s differently from its pin (%s, pinned %s); disabled until the pin is updated", s.cfg.Name, d.Remote, st.Pin, want)
		}
		if st.Disabled != "" && want != "" && s.reported[name] != st.Pin+"|"+want {
			s.reported[name] = st.Pin + "|" + want
			changes = append(changes, Change{Server: s.cfg.Name, Tool: name, Remote: d.Remote, Want: want, Got: st.Pin})
		}
		if st.Disabled == "" {
			delete(s.reported, name)
			if st.Tool != nil {
				if _, err := compileSchema(st.Tool.InputSchema); err != nil {
					st.Disabled = fmt.Sprintf("the input schema of %s cannot be enforced: %v", d.Remote, err)
				}
			}
		}
		states[name] = st
	}
	s.states = states
	return changes
}

// State returns a declared tool's state. A tool never listed is disabled.
func (s *Source) State(name string) ToolState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.states[name]
	if !ok {
		reason := fmt.Sprintf("MCP server %s has not listed its tools yet", s.cfg.Name)
		if s.lastErr != "" {
			reason += ": " + s.lastErr
		}
		return ToolState{Disabled: reason}
	}
	return st
}

// Call calls a tool of the server, with meta as the request's _meta.
func (s *Source) Call(ctx context.Context, remote string, args map[string]any, meta map[string]any) (*mcp.CallToolResult, error) {
	s.mu.Lock()
	sess, lastErr := s.session, s.lastErr
	s.mu.Unlock()
	if sess == nil {
		if lastErr != "" {
			return nil, fmt.Errorf("%w: %s (%s)", ErrDown, s.cfg.Name, lastErr)
		}
		return nil, fmt.Errorf("%w: %s", ErrDown, s.cfg.Name)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	if args == nil {
		args = map[string]any{}
	}
	res, err := sess.CallTool(ctx, &mcp.CallToolParams{Name: remote, Arguments: args, Meta: meta})
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("MCP server %s did not answer in time", s.cfg.Name)
		}
		return nil, fmt.Errorf("MCP server %s: %w", s.cfg.Name, err)
	}
	return res, nil
}
