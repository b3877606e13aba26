package llm

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Offline is the deterministic demo model: it calls the demo tools when a
// message names a claim, customer or policy, and says plainly that it is
// offline. It exists for the quickstart and tests, never as a silent fallback.
type Offline struct{}

var _ Streamer = Offline{}

// OfflineModelName is reported as the model of offline runs.
const OfflineModelName = "gatehouse-offline-demo"

// Name implements Model.
func (Offline) Name() string { return "offline demo model" }

var (
	claimRef    = regexp.MustCompile(`\bCLM-\d+\b`)
	customerRef = regexp.MustCompile(`\bC-\d+\b`)
	policyRef   = regexp.MustCompile(`\bPOL-\d+\b`)
	// policySet needs the imperative "set … status|premium to X", so a
	// question about a policy ("has its status changed to …?") never writes.
	// emailTo finds an address to write to ("email bob@bank.example ...").
	emailTo = regexp.MustCompile(`(?i)\b(?:e-?mail|write to|send)\b.*?([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})`)
	// kbPath finds a knowledge-base document ("read /kb/public/claims.md"):
	// the dev config's MCP tool kb_read.
	kbPath    = regexp.MustCompile(`/kb/[^\s"']*`)
	policySet = regexp.MustCompile(`(?i)\bset\b.*?\b(status|premium)\b.*?\bto\s+"?([A-Za-z0-9_.-]+)`)
	// cardToken is a card number as data protection shows it to a model
	// (the dev config's card_status tool takes it).
	cardToken = regexp.MustCompile(`⟦card:[0-9a-f]{16}⟧`)
)

const offlinePrefix = "[offline demo model: no LLM is connected] "

// Complete implements Model.
func (Offline) Complete(_ context.Context, req Request) (*Response, error) {
	resp := &Response{Model: OfflineModelName, Message: Message{Role: "assistant"}}
	if len(req.Messages) == 0 {
		return answer(resp, "There is no message to answer."), nil
	}
	last := req.Messages[len(req.Messages)-1]
	if last.Role == "tool" {
		resp.Message.Content = offlinePrefix + summarize(req.Messages)
		return resp, nil
	}
	text := last.Content
	has := map[string]bool{}
	for _, t := range req.Tools {
		has[t.Name] = true
	}
	var calls []ToolCall
	var missing []string
	call := func(tool string, args map[string]string) {
		if !has[tool] {
			missing = append(missing, tool)
			return
		}
		b, _ := json.Marshal(args)
		calls = append(calls, ToolCall{ID: fmt.Sprintf("call_%d_%d", len(req.Messages), len(calls)+1), Name: tool, Arguments: string(b)})
	}
	for _, id := range unique(claimRef.FindAllString(text, -1)) {
		call("claims_status", map[string]string{"claim_id": id})
	}
	for _, id := range unique(customerRef.FindAllString(text, -1)) {
		call("payments_lookup", map[string]string{"customer_id": id})
	}
	if m := emailTo.FindStringSubmatch(text); m != nil && has["send_email"] {
		// A client tool (pass-through): the client sends it, if allowed.
		call("send_email", map[string]string{"to": m[1], "subject": "From your assistant", "body": truncate(text, 200)})
	}
	for _, tok := range unique(cardToken.FindAllString(text, -1)) {
		call("card_status", map[string]string{"card_number": tok})
	}
	for _, p := range unique(kbPath.FindAllString(text, -1)) {
		call("kb_read", map[string]string{"path": strings.TrimRight(p, ".,;")})
	}
	policies := unique(policyRef.FindAllString(text, -1))
	if m := policySet.FindStringSubmatch(text); m != nil {
		for _, id := range policies {
			// A sentence's full stop is not part of the value ("… to active.").
			call("policy_update", map[string]string{"policy_id": id, "field": strings.ToLower(m[1]), "value": strings.TrimRight(m[2], ".")})
		}
	} else if len(policies) > 0 {
		return answer(resp, fmt.Sprintf("I can change a policy's status or premium, e.g. \"set %s status to active\".", policies[0])), nil
	}
	if len(calls) > 0 {
		resp.Message.ToolCalls = calls
		return resp, nil
	}
	if len(missing) > 0 {
		return answer(resp, fmt.Sprintf("You are not permitted to use the tool needed for that (%s).", strings.Join(unique(missing), ", "))), nil
	}
	return answer(resp, fmt.Sprintf("You said: %q. Name a claim (CLM-1001), a customer (C-100) or a policy (\"set POL-500 status to active\") and I will look it up with the demo tools.", truncate(text, 200))), nil
}

// offlineChunk is how many bytes of its answer the offline model sends per
// delta: small, so a console in dev mode shows an answer arriving.
const offlineChunk = 16

// Stream implements Streamer: Complete's answer, its content in pieces of
// whole characters, then each tool call.
func (o Offline) Stream(ctx context.Context, req Request, onDelta func(Delta) error) (*Response, error) {
	resp, err := o.Complete(ctx, req)
	if err != nil {
		return nil, err
	}
	for rest := resp.Message.Content; rest != ""; {
		n := min(offlineChunk, len(rest))
		for n < len(rest) && n > 1 && !utf8.RuneStart(rest[n]) {
			n--
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := onDelta(Delta{Content: rest[:n]}); err != nil {
			return nil, err
		}
		rest = rest[n:]
	}
	for i, tc := range resp.Message.ToolCalls {
		if err := onDelta(Delta{ToolCalls: []ToolCallDelta{{Index: i, ID: tc.ID, Name: tc.Name, Arguments: tc.Arguments}}}); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

func answer(r *Response, s string) *Response {
	r.Message.Content = offlinePrefix + s
	return r
}

// summarize reports the results of the latest round of tool calls.
func summarize(msgs []Message) string {
	start := len(msgs)
	for start > 0 && msgs[start-1].Role == "tool" {
		start--
	}
	names := map[string]string{}
	for _, m := range msgs[:start] {
		for _, tc := range m.ToolCalls {
			names[tc.ID] = tc.Name
		}
	}
	var b strings.Builder
	b.WriteString("Here is what the tools returned:")
	for _, m := range msgs[start:] {
		label := names[m.ToolCallID]
		if label == "card_status" {
			// Name the card as the model was shown it (a token, under data
			// protection), as a model answering about it would.
			for _, um := range msgs[:start] {
				if t := cardToken.FindString(um.Content); um.Role == "user" && t != "" {
					label += " for " + t
				}
			}
		}
		fmt.Fprintf(&b, "\n- %s: %s", label, m.Content)
	}
	return b.String()
}

func unique(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
