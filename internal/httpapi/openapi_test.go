package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/gatehousehq/gatehouse/internal/audit"
)

// patterns records what routes registers.
type patterns []string

func (p *patterns) Handle(pattern string, _ http.Handler) { *p = append(*p, pattern) }
func (p *patterns) HandleFunc(pattern string, _ func(http.ResponseWriter, *http.Request)) {
	*p = append(*p, pattern)
}

// allRoutes are the patterns of a server with every optional route on.
func allRoutes(t *testing.T) []string {
	s, _ := testServer(t, &memSink{})
	s.AuditLog = struct{ audit.TreeStore }{}
	s.DevJWKS = []byte(`{"keys":[]}`)
	s.MetricsHandler = http.NotFoundHandler()
	var p patterns
	s.routes(&p)
	return p
}

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(openAPIDocument)
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi.json is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	return doc
}

// TestOpenAPI_EveryRouteIsDocumented fails for a route in routes.go that
// openapi.json lacks, saying what to add, and for a documented operation
// no route serves.
func TestOpenAPI_EveryRouteIsDocumented(t *testing.T) {
	doc := loadOpenAPI(t)
	served := map[string]bool{}
	for _, pat := range allRoutes(t) {
		method, path, ok := strings.Cut(pat, " ")
		if !ok {
			method, path = "", pat
		}
		if path == "/" || path == "/v1/" {
			continue // the catch-alls: 404 in the Error shape (OpenAI's under /v1/)
		}
		item := doc.Paths.Value(path)
		if method == "" {
			// A pattern without a method serves them all: document each one used.
			if item == nil || len(item.Operations()) == 0 {
				t.Errorf("route %q (routes.go) is not in internal/httpapi/openapi.json: add under \"paths\" %s", pat, skeleton(path, "get"))
			}
			for m := range item.Operations() {
				served[m+" "+path] = true
			}
			continue
		}
		served[method+" "+path] = true
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("route %q (routes.go) is not in internal/httpapi/openapi.json: add under \"paths\" %s", pat, skeleton(path, strings.ToLower(method)))
		}
	}
	for path, item := range doc.Paths.Map() {
		for m := range item.Operations() {
			if !served[m+" "+path] {
				t.Errorf("openapi.json documents %s %s, which routes.go does not register", m, path)
			}
		}
	}
}

// skeleton is the entry a missing route needs, to fill in.
func skeleton(path, method string) string {
	var params string
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			params += fmt.Sprintf(`, "parameters": [{"name": %q, "in": "path", "required": true, "schema": {"type": "string"}}]`, strings.Trim(seg, "{}"))
		}
	}
	return fmt.Sprintf(`%q: {%q: {"operationId": "...", "summary": "...", "security": [{"bearerAuth": []}], "x-gatehouse-permission": "..."%s, "responses": {"200": {"description": "...", "content": {"application/json": {"schema": {...}}}}, "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"}}}} (the end-to-end tests then validate every response of the route against it)`, path, method, params)
}

func TestOpenAPI_ServedWithoutAuth(t *testing.T) {
	s, _ := testServer(t, &memSink{})
	h := s.Handler()
	resp, body, _ := get(t, h, "/openapi.json", "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /openapi.json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if body["openapi"] != "3.1.0" {
		t.Errorf("openapi: %v", body["openapi"])
	}
	paths, _ := body["paths"].(map[string]any)
	var got []string
	for p := range paths {
		got = append(got, p)
	}
	slices.Sort(got)
	if !slices.Contains(got, "/v1/chat/completions") || !slices.Contains(got, "/openapi.json") {
		t.Errorf("paths: %v", got)
	}
}
