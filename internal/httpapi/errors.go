package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/approval"
	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authn"
	"github.com/gatehousehq/gatehouse/internal/chat"
	"github.com/gatehousehq/gatehouse/internal/dlp"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/passthrough"
	"github.com/gatehousehq/gatehouse/internal/runs"
	"github.com/gatehousehq/gatehouse/internal/session"
)

// apiError is an error with its HTTP status, machine code and a message safe
// for the client. Every error response is built from one.
type apiError struct {
	Status int
	Code   string
	Detail string
	// Reasons lists individual problems (e.g. config validation), when useful.
	Reasons []string
	// RunID is set for errors that end a run.
	RunID string
	// Param names the request member at fault (OpenAI-shaped errors).
	Param string
}

func (e *apiError) Error() string { return e.Detail }

func errBadRequest(detail string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Detail: detail}
}

var (
	errForbidden  = &apiError{Status: http.StatusForbidden, Code: "forbidden", Detail: "Not authorized for this action"}
	errNotFound   = &apiError{Status: http.StatusNotFound, Code: "not_found", Detail: "Not found"}
	errTooLarge   = &apiError{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large", Detail: "Request body too large"}
	errRateLimit  = &apiError{Status: http.StatusTooManyRequests, Code: "rate_limited", Detail: "Rate limit exceeded"}
	errNotReady   = &apiError{Status: http.StatusServiceUnavailable, Code: "audit_unavailable", Detail: "Not ready: the audit log does not accept writes"}
	errAuditDown  = &apiError{Status: http.StatusServiceUnavailable, Code: "audit_unavailable", Detail: "The audit log cannot record; nothing was run"}
	errOverloaded = &apiError{Status: http.StatusServiceUnavailable, Code: "overloaded", Detail: "Too many runs in flight; try again shortly"}
	errLimitDown  = &apiError{Status: http.StatusServiceUnavailable, Code: "rate_limit_unavailable", Detail: "The shared rate limit cannot be checked; try again shortly"}
	errAuthDown   = &apiError{Status: http.StatusServiceUnavailable, Code: "authentication_unavailable", Detail: "Authentication is temporarily unavailable"}
	errInternal   = &apiError{Status: http.StatusInternalServerError, Code: "internal", Detail: "Internal server error"}
	errMissingTok = &apiError{Status: http.StatusUnauthorized, Code: "missing_token", Detail: "Missing bearer token"}
)

// errMCPStarting is /ready's answer while MCP servers make their first
// connection attempt: reasons name each server as its config key.
func errMCPStarting(names []string) *apiError {
	reasons := make([]string, len(names))
	for i, n := range names {
		reasons[i] = "mcp_servers." + n + ": the first connection attempt has not ended"
	}
	return &apiError{Status: http.StatusServiceUnavailable, Code: "mcp_starting",
		Detail: "Not ready: MCP servers are starting: " + strings.Join(names, ", "), Reasons: reasons}
}

// toAPIError maps any error to what the client sees. This is the one place
// domain errors become HTTP statuses.
func toAPIError(err error) *apiError {
	var ae *apiError
	var le *agent.LimitError
	var mbe *http.MaxBytesError
	var re *chat.RunError
	var ua *chat.UnknownAgentError
	var be *dlp.BlockedError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &re):
		// A run ended: its id goes with whatever ended it.
		out := *toAPIError(re.Err)
		out.RunID = re.RunID
		return &out
	case errors.Is(err, approval.ErrNotFound):
		return errNotFound
	case errors.Is(err, approval.ErrSelfApproval):
		return &apiError{Status: http.StatusForbidden, Code: "self_approval", Detail: "The requester of a call cannot approve it"}
	case errors.Is(err, approval.ErrNotApprover):
		return &apiError{Status: http.StatusForbidden, Code: "not_an_approver", Detail: "The caller holds none of the approver roles of this call"}
	case errors.Is(err, approval.ErrArgsMismatch):
		return &apiError{Status: http.StatusConflict, Code: "arguments_mismatch", Detail: "args_sha256 is not the hash of this call's arguments: an approval binds to the exact arguments"}
	case errors.Is(err, approval.ErrGone):
		return &apiError{Status: http.StatusGone, Code: "approval_closed", Detail: "The approval was already decided or has expired"}
	case errors.Is(err, approval.ErrBadDecision):
		return errBadRequest(`field "decision" must be "approve" or "deny"`)
	case errors.Is(err, chat.ErrApprovalUnavailable):
		return errInternal
	case errors.Is(err, chat.ErrEmptyMessage):
		return errBadRequest("field 'message' is required")
	case errors.Is(err, chat.ErrMalformedSessionID):
		return errBadRequest("malformed session id")
	case errors.As(err, &ua):
		return &apiError{Status: http.StatusNotFound, Code: "unknown_agent", Detail: "no agent named " + quoteInput(ua.Name)}
	case errors.Is(err, chat.ErrAgentMismatch):
		return errBadRequest(err.Error())
	case errors.Is(err, session.ErrFull):
		return &apiError{Status: http.StatusConflict, Code: "session_full",
			Detail: "The session is full (" + strings.TrimPrefix(err.Error(), session.ErrFull.Error()+": ") + "); start a new one"}
	case errors.Is(err, runs.ErrOverloaded):
		return errOverloaded
	case errors.Is(err, errLimiterDown):
		return errLimitDown
	case errors.Is(err, audit.ErrUnavailable):
		return errAuditDown
	case errors.Is(err, authn.ErrNoCredentials):
		return errMissingTok
	case errors.Is(err, authn.ErrInvalidCredentials):
		return &apiError{Status: http.StatusForbidden, Code: "invalid_token", Detail: "Invalid token"}
	case errors.As(err, &mbe):
		return errTooLarge
	case errors.As(err, &le):
		return &apiError{Status: http.StatusUnprocessableEntity, Code: "run_limit", Detail: le.Error()}
	case errors.As(err, &be):
		// Names the types found, never the values.
		return &apiError{Status: http.StatusUnprocessableEntity, Code: "data_blocked", Detail: "The request was refused: " + be.Error()}
	case errors.Is(err, agent.ErrRunTimeout), errors.Is(err, errRequestTimeout):
		return &apiError{Status: http.StatusGatewayTimeout, Code: "timeout", Detail: "The run timed out"}
	case errors.Is(err, agent.ErrRunCancelled):
		// Nobody reads this answer; the status names the cause in the logs
		// (499 is the usual "client closed request").
		return &apiError{Status: 499, Code: "cancelled", Detail: "The request was cancelled by the client"}
	case errors.Is(err, llm.ErrProvider):
		return &apiError{Status: http.StatusBadGateway, Code: "upstream_failed", Detail: "The model provider failed (an error status after retries, a broken or oversized answer, or no answer within model.timeout)"}
	case errors.Is(err, session.ErrNotFound):
		return errNotFound
	}
	return passthroughError(err)
}

// passthroughError maps the pass-through's refusals.
func passthroughError(err error) *apiError {
	var ut *passthrough.UndeclaredToolError
	var uc *passthrough.UnknownToolCallError
	var ir *passthrough.InvalidRequestError
	var cm *passthrough.ToolCallMismatchError
	var rc *passthrough.ToolResultChangedError
	switch {
	case errors.As(err, &ut):
		return &apiError{Status: http.StatusBadRequest, Code: "undeclared_tool", Param: "tools", Detail: ut.Error()}
	case errors.As(err, &uc):
		return &apiError{Status: http.StatusBadRequest, Code: "unknown_tool_call", Param: "messages", Detail: uc.Error()}
	case errors.As(err, &cm):
		return &apiError{Status: http.StatusBadRequest, Code: "tool_call_mismatch", Param: "messages", Detail: cm.Error()}
	case errors.As(err, &rc):
		return &apiError{Status: http.StatusBadRequest, Code: "tool_result_changed", Param: "messages", Detail: rc.Error()}
	case errors.As(err, &ir):
		return errBadRequest(ir.Error())
	case errors.Is(err, passthrough.ErrForbiddenModel):
		return errForbidden
	case errors.Is(err, passthrough.ErrUnknownModel):
		return &apiError{Status: http.StatusNotFound, Code: "model_not_found", Param: "model", Detail: "No such model"}
	}
	return errInternal
}

// maxQuoted is the most of a caller's input an error message quotes: an
// error must not hand back (or carry into a log) what the caller sent.
const maxQuoted = 64

// quoteInput quotes s, a caller's input, for an error message: at most
// maxQuoted bytes of it, cut on a rune boundary, with "..." when cut. Every
// error that quotes caller input uses it.
func quoteInput(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	return strconv.Quote(cut(s, maxQuoted)) + "..."
}

// maxDetail bounds every error detail, also those built from another
// package's error text.
const maxDetail = 512

func boundDetail(d string) string {
	if len(d) <= maxDetail {
		return d
	}
	return cut(d, maxDetail) + "..."
}

// cut returns at most the first n bytes of s, not splitting a rune.
func cut(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

type errorBody struct {
	Detail    string   `json:"detail"`
	Error     string   `json:"error"`
	RequestID string   `json:"request_id"`
	RunID     string   `json:"run_id,omitempty"`
	Reasons   []string `json:"reasons,omitempty"`
}

// writeError writes err as SPEC's JSON error body.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	info := infoFrom(r.Context())
	info.errCode = ae.Code
	switch ae.Status {
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
	}
	if info.openAI {
		respond(w, r, ae.Status, openAIErrorBody(ae))
		return
	}
	respond(w, r, ae.Status, errorBody{Detail: boundDetail(ae.Detail), Error: ae.Code, RequestID: info.requestID, RunID: ae.RunID, Reasons: ae.Reasons})
}

// respond writes a JSON response once the request's deferred audit events
// are durable; if they cannot be recorded the answer is 503 instead.
func respond(w http.ResponseWriter, r *http.Request, status int, v any) {
	info := infoFrom(r.Context())
	if err := info.flush(r.Context()); err != nil {
		info.errCode = errAuditDown.Code
		w.Header().Set("Retry-After", "1")
		status, v = errAuditDown.Status, errorBody{Detail: errAuditDown.Detail, Error: errAuditDown.Code, RequestID: info.requestID}
		if info.openAI {
			v = openAIErrorBody(errAuditDown)
		}
	}
	writeJSON(w, status, v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client may be gone; nothing else to do
}
