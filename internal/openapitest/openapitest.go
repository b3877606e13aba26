// Package openapitest checks HTTP exchanges against gatehouse's OpenAPI
// document (internal/httpapi/openapi.json), for tests: the end-to-end
// suite validates every response it receives, so the document cannot
// drift from the code. kin-openapi validates OpenAPI 3.1 documents with a
// JSON Schema 2020-12 validator.
package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/gatehousehq/gatehouse/internal/httpapi"
)

// Validator validates responses against the document.
type Validator struct {
	Doc    *openapi3.T
	router routers.Router
}

// New loads and validates the document.
func New(t testing.TB) *Validator {
	t.Helper()
	v, err := load()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// textTypes are the console's files: checked as text (kin-openapi decodes
// only registered content types; its registry is package-wide).
var textTypes = sync.OnceFunc(func() {
	plain := openapi3filter.RegisteredBodyDecoder("text/plain")
	for _, ct := range []string{"text/html", "text/javascript", "text/css", "image/svg+xml"} {
		openapi3filter.RegisterBodyDecoder(ct, plain)
	}
})

func load() (*Validator, error) {
	textTypes()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpapi.OpenAPIDocument())
	if err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi.json is not a valid OpenAPI document: %w", err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	return &Validator{Doc: doc, router: router}, nil
}

// Check reports (with t.Errorf) how a response to req differs from the
// document: an undocumented status, content type or body shape. A
// request matching no documented route must have got the API's 404 (or
// 405) error. Streamed responses (text/event-stream) are checked for status
// and content type only: their body is a sequence of events, not one value.
func (v *Validator) Check(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	if err := v.check(req, status, header, body); err != nil {
		t.Errorf("%s %.100s: response %d does not match openapi.json: %v\nbody: %.500s", req.Method, req.URL.Path, status, err, body)
	}
}

func (v *Validator) check(req *http.Request, status int, header http.Header, body []byte) error {
	// The router matches paths only: the test server's host is not in the
	// document's servers.
	r := req.Clone(context.Background())
	r.Host, r.URL.Host, r.URL.Scheme = "", "", ""
	route, params, err := v.router.FindRoute(r)
	if err == nil && route.Path != r.URL.Path {
		// The legacy router folds a trailing slash, so /console and
		// /console/ may find each other: an exact path wins.
		if item := v.Doc.Paths.Value(r.URL.Path); item != nil && item.GetOperation(r.Method) != nil {
			route = &routers.Route{Spec: v.Doc, Path: r.URL.Path, PathItem: item, Method: r.Method, Operation: item.GetOperation(r.Method)}
		}
	}
	if err != nil {
		if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
			return fmt.Errorf("no documented route (%v), yet status %d", err, status)
		}
		return v.checkError(r.URL.Path, header, body)
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	if mt, _, _ := mime.ParseMediaType(header.Get("Content-Type")); mt == "text/event-stream" {
		input.Options.ExcludeResponseBody = true
		resp := route.Operation.Responses.Status(status)
		if resp == nil || resp.Value.Content.Get(mt) == nil {
			return fmt.Errorf("status %d with %s is not documented", status, mt)
		}
	}
	return openapi3filter.ValidateResponse(context.Background(), input)
}

// checkError checks an answer of a catch-all route against the Error
// schema: OpenAI's (OpenAIError) under /v1/, gatehouse's elsewhere.
func (v *Validator) checkError(path string, header http.Header, body []byte) error {
	if mt, _, _ := mime.ParseMediaType(header.Get("Content-Type")); mt != "application/json" {
		return fmt.Errorf("content type %q, want application/json", header.Get("Content-Type"))
	}
	val, err := decodeJSON(body)
	if err != nil {
		return err
	}
	schema := "Error"
	if strings.HasPrefix(path, "/v1/") {
		schema = "OpenAIError"
	}
	return v.Doc.Components.Schemas[schema].Value.VisitJSON(val, openapi3.EnableJSONSchema2020())
}

func decodeJSON(body []byte) (any, error) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("body is not JSON: %w", err)
	}
	return v, nil
}
