package httptool

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestNew_RefusesUnsafeConfigs(t *testing.T) {
	params := json.RawMessage(`{"type":"object","properties":{"id":{"type":"string"},"opt":{"type":"string"},
		"flag":{"type":"boolean"},"filter":{"type":"object","properties":{}}},"required":["id","flag"]}`)
	tests := []struct {
		name    string
		cfg     Config
		wantMsg string
	}{
		{"bad name", Config{Name: "crm lookup", URL: "https://crm/x"}, "name must be"},
		{"ftp scheme", Config{URL: "ftp://crm/x"}, "http:// or https://"},
		{"file scheme", Config{URL: "file:///etc/passwd"}, "http:// or https://"},
		{"placeholder in host", Config{URL: "https://{id}.crm/x"}, "host must be fixed"},
		{"user info", Config{URL: "https://user:" + secret + "@crm/x"}, "host must be fixed"},
		{"fragment", Config{URL: "https://crm/x#{id}"}, "fragment"},
		{"undeclared placeholder", Config{URL: "https://crm/c/{customer}"}, "{customer} is not a declared parameter"},
		{"boolean placeholder", Config{URL: "https://crm/c/{flag}"}, "must be a string or integer"},
		{"optional placeholder", Config{URL: "https://crm/c/{opt}"}, "must be a required parameter"},
		{"malformed placeholder", Config{URL: "https://crm/c/{id"}, "malformed placeholder"},
		{"dot segment", Config{URL: "https://crm/a/../{id}"}, ". or .. segments"},
		{"encoded dot before a placeholder", Config{URL: "https://crm/a/%2E{id}"}, "encoded dot"},
		{"encoded dot, lower case", Config{URL: "https://crm/a/%2e%2e/{id}"}, "encoded dot"},
		{"unescaped template", Config{URL: "https://crm/a b/{id}"}, "escaped form"},
		{"bad method", Config{Method: "TRACE", URL: "https://crm/c/{id}"}, "unsupported method"},
		{"object as query value", Config{URL: "https://crm/c/{id}"}, "cannot hold objects"},
		{"subject header set by config", Config{URL: "https://crm/c/{id}", Method: "POST", Headers: map[string]string{"x-gatehouse-subject": "root"}}, "set by gatehouse"},
		{"issuer header set by config", Config{URL: "https://crm/c/{id}", Method: "POST", Headers: map[string]string{"X-Gatehouse-Issuer": "https://idp"}}, "set by gatehouse"},
		{"auth method header set by config", Config{URL: "https://crm/c/{id}", Method: "POST", Headers: map[string]string{"X-Gatehouse-Auth-Method": "api_key"}}, "set by gatehouse"},
		{"header value with newline", Config{URL: "https://crm/c/{id}", Method: "POST", Headers: map[string]string{"Authorization": secret + "\r\nX-Admin: 1"}}, "Authorization: value contains a control character"},
		{"bad schema", Config{URL: "https://crm/x", Parameters: json.RawMessage(`{"type":"string"}`)}, "top level must be type object"},
		// Sent as "&scope=..." after the template's own "scope=own", the
		// model's value would override the operator's at most backends.
		{"query parameter shadows a fixed query key", Config{URL: "https://crm/c/{id}?scope=own",
			Parameters: json.RawMessage(`{"type":"object","properties":{"id":{"type":"string"},"scope":{"type":"string"}},"required":["id"]}`)}, "parameter scope: the url's query already has a scope value"},
		{"query parameter shadows an escaped fixed query key", Config{URL: "https://crm/c/{id}?sc%6Fpe=own",
			Parameters: json.RawMessage(`{"type":"object","properties":{"id":{"type":"string"},"scope":{"type":"string"}},"required":["id"]}`)}, "parameter scope: the url's query already has a scope value"},
		// In a JSON body too: frameworks that merge query and body let the body win.
		{"body parameter shadows a fixed query key", Config{Method: "POST", URL: "https://crm/c/{id}?scope=own",
			Parameters: json.RawMessage(`{"type":"object","properties":{"id":{"type":"string"},"scope":{"type":"string"}},"required":["id"]}`)}, "parameter scope: the url's query already has a scope value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg.Name == "" {
				cfg.Name = "crm_lookup"
			}
			if cfg.Parameters == nil {
				cfg.Parameters = params
			}
			tool, err := New(cfg)
			if err == nil {
				t.Fatalf("New = %v, want error", tool)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q leaks the secret", err)
			}
		})
	}
}

func TestNew_FillsDefaults(t *testing.T) {
	tool, err := New(Config{Name: "ping", URL: "http://127.0.0.1:1/ping"})
	if err != nil {
		t.Fatal(err)
	}
	if tool.method != "GET" || tool.timeout.Seconds() != 10 || tool.maxBytes != 1<<20 {
		t.Errorf("defaults = %s %v %d, want GET 10s 1MiB", tool.method, tool.timeout, tool.maxBytes)
	}
	if got := string(tool.Spec().Parameters); got != `{"type":"object","properties":{}}` {
		t.Errorf("default parameters = %s", got)
	}
}
