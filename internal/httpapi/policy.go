package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/gate"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// matrixTool is one column of the role × tool matrix.
type matrixTool struct {
	Name       string `json:"name"`
	Permission string `json:"permission"`
	Condition  string `json:"condition,omitempty"`
}

type matrixResponse struct {
	Roles []string     `json:"roles"`
	Tools []matrixTool `json:"tools"`
	// Cells are role-major: every tool of Roles[0], then of Roles[1], ...
	Cells         []authz.Cell `json:"cells"`
	ConfigVersion int64        `json:"config_version"`
}

// handleMatrix serves GET /admin/authz/matrix: each configured role's
// standing for each configured tool, from the runtime serving the request.
func (s *Server) handleMatrix() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt := s.runtime(r)
		res := matrixResponse{Roles: rt.Perms.Roles(), Tools: []matrixTool{}, Cells: []authz.Cell{}, ConfigVersion: s.Version()}
		names := toolNames(rt.Tools)
		for _, n := range names {
			pol := rt.Tools[n].Policy
			res.Tools = append(res.Tools, matrixTool{Name: n, Permission: pol.Permission, Condition: pol.Source})
		}
		for _, role := range res.Roles {
			for _, n := range names {
				res.Cells = append(res.Cells, rt.Perms.Standing(role, rt.Tools[n].Policy))
			}
		}
		respond(w, r, http.StatusOK, res)
	})
}

func toolNames(m map[string]*agent.Tool) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// explainRequest is a hypothetical caller and tool call.
type explainRequest struct {
	Subject string         `json:"subject"`
	Roles   []string       `json:"roles"`
	Scopes  []string       `json:"scopes"`
	Claims  map[string]any `json:"claims"`
	Tool    string         `json:"tool"`
	// Arguments are the call's arguments: a JSON object, or a string
	// holding one (as a model sends them).
	Arguments json.RawMessage `json:"arguments"`
}

type explainResponse struct {
	Tool       string `json:"tool"`
	Permission string `json:"permission,omitempty"`
	Condition  string `json:"condition,omitempty"`
	// Visible: the tool would be offered to this caller's model.
	Visible  bool   `json:"visible"`
	Decision string `json:"decision"`
	Status   string `json:"status"`
	Rule     string `json:"rule"`
	Reason   string `json:"reason"`
}

// handleExplain serves POST /admin/authz/explain: the decision the policy
// gate would make for a principal and a tool call. It calls the gate with
// the tools a door offers that principal (those whose permission it
// holds), so the verdict and rule are the ones a door would record: a tool
// the principal may not use is "tool not offered", and the answer's
// permission and visible say why. Nothing runs and nothing is recorded but
// the admin's access to this route.
func (s *Server) handleExplain() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeExplain(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		rt := s.runtime(r)
		subject := req.Subject
		if subject == "" {
			subject = "explain"
		}
		p := &principal.Principal{Subject: subject, Roles: req.Roles, Scopes: req.Scopes, Claims: req.Claims, Method: principal.MethodAPIKey}
		if p.Claims == nil {
			p.Claims = map[string]any{}
		}
		args := string(req.Arguments)
		var s2 string
		if json.Unmarshal(req.Arguments, &s2) == nil {
			args = s2
		}
		offered := map[string]*agent.Tool{}
		for n, t := range rt.Tools {
			if rt.Perms.Visible(p, t.Policy) {
				offered[n] = t
			}
		}
		d := rt.Gate.Decide(r.Context(), gate.Input{Door: gate.DoorExplain, Principal: p, Base: audit.Event{RequestID: infoFrom(r.Context()).requestID}.By(p),
			Declared: rt.Tools, Offered: offered, Call: llm.ToolCall{ID: "explain", Name: req.Tool, Arguments: args}})
		rec := agent.RecordOf(d)
		// A held call's rule names the approval it would wait for.
		res := explainResponse{Tool: req.Tool, Decision: d.Verdict.String(), Status: d.Status, Rule: d.Event.Rule, Reason: rec.Reason}
		if res.Status == "" {
			res.Status = "allowed"
		}
		if t := rt.Tools[req.Tool]; t != nil {
			res.Permission, res.Condition = t.Policy.Permission, t.Policy.Source
			res.Visible = rt.Perms.Visible(p, t.Policy)
		}
		respond(w, r, http.StatusOK, res)
	})
}

func decodeExplain(r *http.Request) (explainRequest, error) {
	var req explainRequest
	body, err := readBody(r)
	if err != nil {
		return req, err
	}
	if _, err := strictObject(body, []string{"subject", "roles", "scopes", "claims", "tool", "arguments"}); err != nil {
		return req, err
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return req, errBadRequest("malformed explain request: roles and scopes are lists of strings, claims an object, tool a string")
	}
	if req.Tool == "" {
		return req, errBadRequest("tool is required")
	}
	if len(req.Arguments) == 0 || string(req.Arguments) == "null" {
		req.Arguments = json.RawMessage("{}")
	}
	return req, nil
}
