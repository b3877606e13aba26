package passthrough

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gatehousehq/gatehouse/internal/ids"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// ArgumentsHash is the hex SHA-256 of a call's arguments in canonical JSON:
// the arguments as released to the client, decoded (numbers kept as
// written) and encoded again compact, with object keys sorted and no HTML
// escaping; blank arguments count as {} (as the gate reads them). The
// client's history must carry the same arguments, but not necessarily the
// same bytes: the OpenAI SDKs echo the string gatehouse sent, while some
// frameworks (LangChain) parse it and send json.dumps of it back, with
// other spacing, key order or escapes. Any change of a name or a value
// changes the hash. ok is false for text that is not one JSON value.
func ArgumentsHash(args string) (hash string, ok bool) {
	if strings.TrimSpace(args) == "" {
		args = "{}"
	}
	dec := json.NewDecoder(strings.NewReader(args))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return "", false // trailing data
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", false
	}
	return sha256Hex(bytes.TrimSuffix(b.Bytes(), []byte("\n"))), true
}

// ResultHash is the hex SHA-256 of a tool message's content, exactly: the
// client sends back its own text.
func ResultHash(content string) string { return sha256Hex([]byte(content)) }

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// answer is a tool message answering a released call, not reported before.
type answer struct{ id, tool, content, hash string }

// checkHistory checks the client's history against what gatehouse released
// to this caller and recorded: every assistant tool call must be a call
// released to the caller, with the same name and arguments (ArgumentsHash);
// every tool message must answer such a call, with the result already
// recorded for it if there is one. It returns the answers not reported
// before.
func (s *Service) checkHistory(ctx context.Context, p *principal.Principal, msgs []llm.Message) ([]answer, error) {
	var callIDs []string
	for _, m := range msgs {
		switch m.Role {
		case "tool":
			callIDs = append(callIDs, m.ToolCallID)
		case "assistant":
			for _, c := range m.ToolCalls {
				callIDs = append(callIDs, c.ID)
			}
		}
	}
	if len(callIDs) == 0 {
		return nil, nil
	}
	for _, id := range callIDs {
		// A malformed id (of any size) reaches neither the store nor, whole,
		// the log.
		if !ids.Valid("call_", id) {
			return nil, &UnknownToolCallError{ID: id}
		}
	}
	found, err := s.Calls.Lookup(ctx, p.Key(), callIDs)
	if err != nil {
		return nil, fmt.Errorf("look up released tool calls: %w", err)
	}
	var out []answer
	answered := map[string]string{} // call id → result hash, in this request
	for _, m := range msgs {
		for _, c := range m.ToolCalls {
			if err := matchRelease(found, c); err != nil {
				return nil, err
			}
		}
		if m.Role != "tool" {
			continue
		}
		rc, ok := found[m.ToolCallID]
		if !ok {
			return nil, &UnknownToolCallError{ID: m.ToolCallID}
		}
		h := ResultHash(m.Content)
		prev, seen := answered[rc.ID]
		switch {
		case seen && prev != h, rc.Reported && rc.ResultSHA256 != h:
			// A result recorded before the hashes were kept ("") never
			// matches: fail closed.
			return nil, &ToolResultChangedError{ID: rc.ID, Result: m.Content}
		case !seen && !rc.Reported:
			out = append(out, answer{id: rc.ID, tool: rc.Tool, content: m.Content, hash: h})
		}
		answered[rc.ID] = h
	}
	return out, nil
}

// matchRelease checks an assistant tool call of the history against the
// call released under its id. A call released before argument hashes were
// kept ("") never matches: fail closed.
func matchRelease(found map[string]Released, c llm.ToolCall) error {
	rc, ok := found[c.ID]
	if !ok {
		return &UnknownToolCallError{ID: c.ID}
	}
	if c.Name != rc.Tool {
		return &ToolCallMismatchError{ID: c.ID, Field: "name", Name: c.Name, Arguments: c.Arguments}
	}
	if h, ok := ArgumentsHash(c.Arguments); !ok || rc.ArgsSHA256 == "" || h != rc.ArgsSHA256 {
		return &ToolCallMismatchError{ID: c.ID, Field: "arguments", Name: c.Name, Arguments: c.Arguments}
	}
	return nil
}
