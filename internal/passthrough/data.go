package passthrough

import (
	"context"
	"errors"
	"strconv"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/dlp"
	"github.com/gatehousehq/gatehouse/internal/gate"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// scope is the data protection scope of a caller's pass-through requests.
// The client holds the conversation and sends it whole each time, with no
// session id: its tokens are the caller's across requests (bounded by
// data_protection.ttl and max_tokens), so the model sees the same token
// for the same value in every turn.
func scope(p *principal.Principal) dlp.Scope { return dlp.Scope{Owner: p.Key(), ID: "passthrough"} }

// placed is found with each finding's place set: message i of the
// client's (of role), plus suffix. The place is named only when there is a
// finding to name it.
func placed(found []dlp.Found, i int, role, suffix string) []dlp.Found {
	if len(found) == 0 {
		return found
	}
	where := "the client's messages[" + strconv.Itoa(i) + "] (" + role + ")" + suffix
	if role == "tool" {
		where = "a client tool's result, messages[" + strconv.Itoa(i) + "]" + suffix
	}
	for j := range found {
		found[j].Where = where
	}
	return found
}

// protectMessages is the client's conversation as the model may see it:
// every message's text — the caller's words, the answers it kept, the
// results its tools sent back — and the arguments of the calls released
// to it, protected. Findings are returned as events; a value to block
// refuses the request (an error wrapping dlp.ErrBlocked).
func (s *Service) protectMessages(ctx context.Context, p *principal.Principal, base audit.Event, msgs []llm.Message) ([]llm.Message, []audit.Event, error) {
	if s.Data == nil {
		return msgs, nil, nil
	}
	out := make([]llm.Message, len(msgs))
	var found []dlp.Found
	sc := scope(p)
	for i, m := range msgs {
		// Where a finding was is named only for a finding: most messages
		// hold none.
		c, f, err := s.Data.Protect(ctx, sc, "", m.Content)
		found = append(found, placed(f, i, m.Role, "")...)
		if err != nil {
			return nil, gate.FoundEvents(base, found), err
		}
		out[i] = m
		out[i].Content = c
		if len(m.ToolCalls) > 0 {
			out[i].ToolCalls = make([]llm.ToolCall, len(m.ToolCalls))
			for j, tc := range m.ToolCalls {
				a, f, err := s.Data.Protect(ctx, sc, "", tc.Arguments)
				found = append(found, placed(f, i, m.Role, " tool call arguments")...)
				if err != nil {
					return nil, gate.FoundEvents(base, found), err
				}
				tc.Arguments = a
				out[i].ToolCalls[j] = tc
			}
		}
	}
	return out, gate.FoundEvents(base, found), nil
}

// errTokenRefused is what the model is told of a proposed call whose
// arguments hold a token not issued to this caller.
var errTokenRefused = errors.New("the arguments hold a token not issued to this caller; pass tokens exactly as given")

// release is a call's arguments as the client's tool receives them: the
// gate decided on the tokens, the client gets the values. A token not
// issued to this caller refuses the call.
func (s *Service) release(ctx context.Context, p *principal.Principal, d gate.Decision) (gate.Decision, string) {
	if s.Data == nil || !d.Allowed() {
		return d, d.Call.Arguments
	}
	args, err := s.Data.Detokenize(ctx, scope(p), d.Call.Arguments)
	if err != nil {
		return d.Refused(authz.Decision{Rule: "data protection", Reason: errTokenRefused.Error()}), d.Call.Arguments
	}
	return d, args
}

// protectAnswer is the model's text protected (as the model may see it
// again) and as the client sees it: the tokens its roles may see
// revealed. A value to block withholds the text.
func (s *Service) protectAnswer(ctx context.Context, p *principal.Principal, base audit.Event, text string) (protected, shown string, found []audit.Event) {
	if s.Data == nil || text == "" {
		return text, text, nil
	}
	out, fs, err := s.Data.Protect(ctx, scope(p), "the model's answer", text)
	if err != nil {
		out = "The answer was withheld: " + err.Error() + "."
	}
	return out, s.Data.Reveal(ctx, scope(p), p.Roles, out), gate.FoundEvents(base, fs)
}

// onContent is where streamed text goes: through data protection's stream
// filter when it is on. done sends what the filter holds back.
func (s *Service) onContent(ctx context.Context, p *principal.Principal, send func(string) error) (write func(string) error, done func() error) {
	if send == nil {
		return nil, func() error { return nil }
	}
	if s.Data == nil {
		return send, func() error { return nil }
	}
	st := s.Data.NewStream(scope(p), "the model's answer", p.Roles, send)
	return func(c string) error { return st.Write(ctx, c) }, func() error { return st.Close(ctx) }
}
