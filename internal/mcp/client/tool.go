package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/telemetry"
	"github.com/gatehousehq/gatehouse/internal/tools"
)

// Meta keys that carry the caller's identity to an MCP server (SPEC "MCP").
const (
	MetaSubject = "gatehouse/subject"
	MetaIssuer  = "gatehouse/issuer"
	MetaMethod  = "gatehouse/method"
)

// MaxResultBytes bounds one tool result passed on to the model.
const MaxResultBytes = 1 << 20

// Tool is one declared type: mcp tool: offered under its gatehouse name,
// with the description and schema its server presents, while the server
// presents it as pinned.
type Tool struct {
	src    *Source
	name   string
	remote string
	cred   Credential
}

// Credential gives one call its bearer from the call's context (a call
// token, or a token exchanged for the caller's); an error stops the call
// before anything is sent.
type Credential interface {
	Bearer(ctx context.Context) (string, error)
}

// WithCredential makes each call of t carry cred's bearer as its
// Authorization, in place of the server's configured header; the
// connection's other requests carry the configured headers only.
func (t *Tool) WithCredential(cred Credential) *Tool {
	t.cred = cred
	return t
}

// NewTool returns the tool name (gatehouse's) calling remote on src. The
// source must have it declared (Source.Declare).
func NewTool(src *Source, name, remote string) *Tool {
	return &Tool{src: src, name: name, remote: remote}
}

var _ tools.Tool = (*Tool)(nil)

// Spec is the tool as the model sees it: gatehouse's name, the server's
// description, and the schema gatehouse enforces.
func (t *Tool) Spec() tools.Spec {
	st := t.src.State(t.name)
	spec := tools.Spec{Name: t.name, Parameters: tools.EmptySchema()}
	if st.Tool != nil {
		spec.Description = st.Tool.Description
		if raw, err := normalizeSchema(st.Tool.InputSchema); err == nil {
			spec.Parameters = raw
		}
	}
	return spec
}

// Disabled says why the tool may not be offered or called now ("" when it
// may): never listed, changed since its pin, or a schema gatehouse cannot
// enforce.
func (t *Tool) Disabled() string { return t.src.State(t.name).Disabled }

// Server names the tool's MCP server and its name there, for the record.
func (t *Tool) Server() (server, remote string) { return t.src.Name(), t.remote }

// Decode validates arguments against the server's current schema, with the
// same strict decoder as every other tool.
func (t *Tool) Decode(raw []byte) (tools.Args, error) {
	st := t.src.State(t.name)
	if st.Disabled != "" {
		return nil, errors.New(st.Disabled)
	}
	sch, err := compileSchema(st.Tool.InputSchema)
	if err != nil {
		return nil, fmt.Errorf("the input schema of %s cannot be enforced: %w", t.remote, err)
	}
	return sch.Decode(raw)
}

// Call calls the tool on its server, with the caller's identity in _meta
// (never the caller's credential). A result the server marks isError is a
// tool error.
func (t *Tool) Call(ctx context.Context, args tools.Args) (any, error) {
	if reason := t.Disabled(); reason != "" {
		return nil, errors.New(reason)
	}
	meta := map[string]any{}
	if p := principal.From(ctx); p != nil {
		meta[MetaSubject], meta[MetaIssuer], meta[MetaMethod] = p.Subject, p.Issuer, string(p.Method)
	}
	// The run's trace context, as MCP carries it: traceparent and
	// tracestate in _meta (W3C Trace Context; nothing without a span).
	h := http.Header{}
	telemetry.Inject(ctx, h)
	for _, k := range []string{"traceparent", "tracestate"} {
		if v := h.Get(k); v != "" {
			meta[k] = v
		}
	}
	if t.cred != nil {
		tok, err := t.cred.Bearer(ctx)
		if err != nil {
			// Fail closed: nothing is sent without the call's credential.
			return nil, fmt.Errorf("the call's credential could not be made: %w", err)
		}
		ctx = context.WithValue(ctx, bearerKey{}, tok)
	}
	res, err := t.src.Call(ctx, t.remote, args, meta)
	if err != nil {
		return nil, err
	}
	if res.IsError {
		return nil, fmt.Errorf("%s", strings.TrimSpace(textOf(res)))
	}
	var out any = map[string]any{"content": res.Content}
	if res.StructuredContent != nil {
		out = map[string]any{"content": res.Content, "structuredContent": res.StructuredContent}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode result: %w", err)
	}
	if len(b) > MaxResultBytes {
		return nil, fmt.Errorf("the result is over %d bytes", MaxResultBytes)
	}
	return json.RawMessage(b), nil
}

func textOf(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	if len(parts) == 0 {
		return "the tool reported an error"
	}
	return strings.Join(parts, "\n")
}
