// Package httptool runs operator-declared HTTP tools: a URL template filled
// from the call's validated arguments, fixed headers (secrets already
// expanded from the environment by config loading), a method, a timeout and
// a response-size cap. The caller's subject is sent as X-Gatehouse-Subject.
//
// Redirects are never followed: a 3xx answer is a tool error. Following one
// could carry the operator's secret headers to a host the operator did not
// name.
//
// Header values are secrets. They are never logged and never appear in an
// error this package returns.
package httptool

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/internal/tools"
	"github.com/gatehousehq/gatehouse/internal/tools/schema"
)

// The verified caller, as the backend receives it. A subject is one
// identity only together with how it was verified and by whom: the same
// subject from another issuer, or an API key named alike, is someone else,
// so a backend scoping by caller must use all three.
const (
	SubjectHeader    = "X-Gatehouse-Subject"
	AuthMethodHeader = "X-Gatehouse-Auth-Method" // api_key | jwt | mtls
	IssuerHeader     = "X-Gatehouse-Issuer"      // the JWT issuer or the client certificate's issuer; absent for API keys
)

const (
	defaultTimeout          = 10 * time.Second
	defaultMaxResponseBytes = 1 << 20
)

var (
	headerNameRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
	bodyMethods  = []string{http.MethodPost, http.MethodPut, http.MethodPatch}
	queryMethods = []string{http.MethodGet, http.MethodDelete}
)

// Config declares one HTTP tool.
type Config struct {
	Name        string
	Description string
	// Method is GET, POST, PUT, PATCH or DELETE; empty means GET.
	Method string
	// URL is an http or https URL, in escaped form, with {param} placeholders
	// in its path or query. Each names a required string or integer parameter.
	URL string
	// Headers are sent with every call. Values are secrets.
	Headers map[string]string
	// Parameters is the JSON schema of the arguments (see package schema);
	// empty means no arguments.
	Parameters json.RawMessage
	// Timeout bounds one call; zero means 10 s.
	Timeout time.Duration
	// MaxResponseBytes caps the response body; zero means 1 MiB.
	MaxResponseBytes int64
	// Client sends the requests; nil means a new http.Client. It is copied,
	// and the copy never follows redirects.
	Client *http.Client
	// Credential, when set, gives each call its Authorization bearer (a
	// call token, or a token exchanged for the caller's); Headers may then
	// not set Authorization. The caller's own token is never sent.
	Credential Credential
}

// Credential supplies the bearer of one call from the call's context. An
// error stops the call before anything is sent.
type Credential interface {
	Bearer(ctx context.Context) (string, error)
}

// Tool is an HTTP tool. It is safe for concurrent use.
type Tool struct {
	spec     tools.Spec
	method   string
	tmpl     *urlTemplate
	headers  http.Header
	extra    []string // parameters not in the URL: body or query
	timeout  time.Duration
	maxBytes int64
	client   *http.Client
	cred     Credential
}

var _ tools.Tool = (*Tool)(nil)

// New validates cfg and fills its defaults.
func New(cfg Config) (*Tool, error) {
	if !tools.ValidName(cfg.Name) {
		return nil, fmt.Errorf("http tool %q: name must be %s", cfg.Name, tools.NameRule)
	}
	t, err := build(cfg)
	if err != nil {
		return nil, fmt.Errorf("http tool %s: %w", cfg.Name, err)
	}
	return t, nil
}

func build(cfg Config) (*Tool, error) {
	method := strings.ToUpper(cfg.Method)
	if method == "" {
		method = http.MethodGet
	}
	if !slices.Contains(bodyMethods, method) && !slices.Contains(queryMethods, method) {
		return nil, fmt.Errorf("unsupported method %q", cfg.Method)
	}
	params := cfg.Parameters
	if len(params) == 0 {
		params = tools.EmptySchema()
	}
	sch, err := schema.Compile(params)
	if err != nil {
		return nil, err
	}
	tmpl, err := parseTemplate(cfg.URL)
	if err != nil {
		return nil, err
	}
	for _, name := range tmpl.names {
		p, ok := sch.Property(name)
		if !ok {
			return nil, fmt.Errorf("url placeholder {%s} is not a declared parameter", name)
		}
		if p.Type != schema.TypeString && p.Type != schema.TypeInteger {
			return nil, fmt.Errorf("url placeholder {%s} must be a string or integer parameter", name)
		}
		if !p.Required {
			return nil, fmt.Errorf("url placeholder {%s} must be a required parameter", name)
		}
	}
	var extra []string
	for _, name := range sch.Properties() {
		if slices.Contains(tmpl.names, name) {
			continue
		}
		if p, _ := sch.Property(name); p.Type == schema.TypeObject && slices.Contains(queryMethods, method) {
			return nil, fmt.Errorf("parameter %s: %s sends parameters as query values, which cannot hold objects", name, method)
		}
		// Also for a JSON body: many frameworks merge query and body
		// parameters, the body's winning over the operator's fixed value.
		if tmpl.hasQueryKey(name) {
			return nil, fmt.Errorf("parameter %s: the url's query already has a %s value, which the model's would shadow", name, name)
		}
		extra = append(extra, name)
	}
	headers := make(http.Header, len(cfg.Headers))
	for k, v := range cfg.Headers {
		// Errors name the header, never its value.
		if !headerNameRE.MatchString(k) {
			return nil, fmt.Errorf("invalid header name %q", k)
		}
		if strings.EqualFold(k, SubjectHeader) || strings.EqualFold(k, AuthMethodHeader) || strings.EqualFold(k, IssuerHeader) ||
			strings.EqualFold(k, "Host") || strings.EqualFold(k, "Content-Length") {
			return nil, fmt.Errorf("header %s is set by gatehouse", k)
		}
		if cfg.Credential != nil && strings.EqualFold(k, "Authorization") {
			return nil, fmt.Errorf("header %s is set by the tool's call_token or token_exchange", k)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return nil, fmt.Errorf("header %s: value contains a control character", k)
		}
		headers.Set(k, v)
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = defaultTimeout
	}
	maxBytes := cfg.MaxResponseBytes
	if maxBytes == 0 {
		maxBytes = defaultMaxResponseBytes
	}
	if timeout < 0 || maxBytes < 0 {
		return nil, fmt.Errorf("timeout and max response bytes must not be negative")
	}
	client := &http.Client{}
	if cfg.Client != nil {
		c := *cfg.Client
		client = &c
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Tool{
		spec:     tools.Spec{Name: cfg.Name, Description: cfg.Description, Parameters: params},
		method:   method,
		tmpl:     tmpl,
		headers:  headers,
		extra:    extra,
		timeout:  timeout,
		maxBytes: maxBytes,
		client:   client,
		cred:     cfg.Credential,
	}, nil
}

// Spec returns what the model is shown of the tool.
func (t *Tool) Spec() tools.Spec { return t.spec }
