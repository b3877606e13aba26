package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// A chat completion request naming a member in another case, or twice, is
// refused before anything runs, with an OpenAI error that names the member.
func TestCompletions_CaseVariantAndDuplicateKeysAreRefusedNamingTheKey(t *testing.T) {
	s, key := testServer(t, &memSink{})
	h := withRoutes(s, testRoute{"POST /v1/chat/completions", "read", openAIRoute(s.handleCompletions())})
	for _, tt := range []struct{ name, body, want, param string }{
		{"MODEL", `{"model":"m","messages":[{"role":"user","content":"hi"}],"MODEL":"other"}`, `"MODEL"`, ""},
		{"Messages", `{"model":"m","Messages":[{"role":"user","content":"hi"}]}`, `"Messages"`, ""},
		{"Content in a message", `{"model":"m","messages":[{"role":"user","content":"hi","Content":"bye"}]}`, `"Content"`, "messages[0]"},
		{"model twice", `{"model":"m","messages":[{"role":"user","content":"hi"}],"model":"n"}`, `"model" given twice`, ""},
		{"a long unknown name", `{"model":"m","messages":[{"role":"user","content":"hi"}],"` + strings.Repeat("y", 200) + `":1}`, strings.Repeat("y", maxQuoted) + `"...`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer "+key)
			resp, body, raw := serve(h, req)
			e, _ := body["error"].(map[string]any)
			msg, _ := e["message"].(string)
			if resp.StatusCode != 400 || e["code"] != "invalid_request" || e["type"] != "invalid_request_error" || !strings.Contains(msg, tt.want) {
				t.Fatalf("%d %s; want 400 invalid_request naming %s", resp.StatusCode, raw, tt.want)
			}
			if p, _ := e["param"].(string); p != tt.param {
				t.Errorf("param %q; want %q", p, tt.param)
			}
			if strings.Contains(msg, strings.Repeat("y", maxQuoted+1)) {
				t.Errorf("the caller's name is quoted unbounded: %s", msg)
			}
		})
	}
}
