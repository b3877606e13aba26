package httpapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/gatehousehq/gatehouse/internal/gate"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/openaiwire"
	"github.com/gatehousehq/gatehouse/internal/passthrough"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// passthroughResponse is a governed pass-through on the Responses API.
func (s *Server) passthroughResponse(w http.ResponseWriter, r *http.Request, rt *Runtime, c *respCall, runID string) {
	info := infoFrom(r.Context())
	req := c.req
	runHeaders(w, r, runID)
	ctx := r.Context()
	opts := llm.Options{Temperature: req.Temperature, TopP: req.TopP, MaxCompletionTokens: req.MaxOutputTokens, ParallelToolCalls: req.ParallelToolCalls}
	if tc := req.ToolChoice; tc != nil {
		opts.ToolChoice = &llm.ToolChoice{Mode: tc.Mode, Function: tc.Function}
	}
	preq := passthrough.Request{Principal: principal.From(r.Context()), Model: req.Model, Messages: c.conversation(),
		Tools: responseTools(req.Tools), Options: opts, RequestID: info.requestID, RunID: runID, Before: info.take(), Door: gate.DoorResponses}
	var st *respStream
	if req.Stream {
		// A stream the client stops reading ends the run (stopOnWriteError).
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		st = newRespStream(w, c)
		preq.OnContent = stopOnWriteError(st.content, cancel)
	}
	res, err := rt.Passthrough.Complete(ctx, preq)
	if err != nil {
		ae := *toAPIError(err)
		ae.RunID = runID
		if st != nil && st.begun {
			st.fail(&ae)
			return
		}
		writeError(w, r, &ae)
		return
	}
	gi := passthroughInfo(runID, req.Model, res)
	if st == nil {
		s.finish(w, r, c, responseBody{Response: c.responseObject("completed", outputItems(res.Message), &res.Usage), Gatehouse: gi})
		return
	}
	// The calls go out only now: every one was allowed and its decision
	// is durable. A refusal or a held turn is said as the answer's text.
	if res.Refused || len(res.Approvals) > 0 {
		_ = st.content(res.Message.Content)
	}
	s.endStream(r, st, c, res.Message.ToolCalls, res.Usage, gi)
}

// responseTools are a request's function tools as the pass-through takes
// them (hosted ones allowed by config are not forwarded: the upstream is
// asked with Chat Completions, which cannot carry them).
func responseTools(in []openaiwire.ResponseTool) []passthrough.OfferedTool {
	var out []passthrough.OfferedTool
	for _, t := range in {
		if !t.Hosted() {
			out = append(out, passthrough.OfferedTool{Name: t.Name, Description: t.Description, Parameters: json.RawMessage(t.Parameters)})
		}
	}
	return out
}
