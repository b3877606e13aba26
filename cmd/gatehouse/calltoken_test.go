package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/callcred"
	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
	"github.com/gatehousehq/gatehouse/pkg/calltoken"
)

const (
	crmAudience = "https://crm.test"
	publicURL   = "https://gatehouse.test"
	crmArgs     = `{"customer_id":"C-100","note":"<b>vip</b> & co"}`
)

// crmTool is an operator's HTTP tool that checks each call's token with
// pkg/calltoken: what it received, what it verified, and the last token.
type crmTool struct {
	*httptest.Server
	mu       sync.Mutex
	verifier *calltoken.Verifier
	headers  []http.Header
	results  []string // "ok" or the refusal
	tokens   []string
}

func newCRMTool(t *testing.T) *crmTool {
	c := &crmTool{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The arguments as the tool received them: the path's and the body's.
		args := map[string]any{"customer_id": strings.TrimPrefix(r.URL.Path, "/customers/")}
		body, _ := io.ReadAll(r.Body)
		var rest map[string]any
		_ = json.Unmarshal(body, &rest)
		for k, v := range rest {
			args[k] = v
		}
		c.mu.Lock()
		v := c.verifier
		c.headers = append(c.headers, r.Header.Clone())
		tok := calltoken.BearerToken(r)
		c.tokens = append(c.tokens, tok)
		c.mu.Unlock()
		_, err := v.Verify(r.Context(), tok, args)
		res := "ok"
		if err != nil {
			res = err.Error()
		}
		c.mu.Lock()
		c.results = append(c.results, res)
		c.mu.Unlock()
		if err != nil {
			http.Error(w, "refused", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"customer":"C-100","tier":"gold"}`))
	}))
	t.Cleanup(c.Close)
	return c
}

func crmScript(_ int, req *llmtest.Request) llmtest.Reply {
	if req.Last().Role == "tool" {
		return llmtest.Reply{Content: "Done: " + string(*req.Last().Content)}
	}
	return llmtest.Reply{ToolCalls: []llmtest.ToolCall{llmtest.Call("c1", "crm_lookup", crmArgs)}}
}

// callTokenGateway starts gatehouse with the delegation IdP, a call-token
// key file, and crm_lookup (call_token) pointing at crm.
func callTokenGateway(t *testing.T, idp *delegIdP, crm *crmTool, keyFile string) *gateway {
	return startGateway(t, gwOptions{script: crmScript, config: func(g *gateway) string {
		cfg := g.withIdentity(identityYAML{
			server: fmt.Sprintf("  public_url: %q\n", publicURL),
			auth: fmt.Sprintf("  jwt:\n    issuers:\n"+
				"      - {issuer: %s, audiences: [gatehouse], algorithms: [ES256], jwks_file: %q,\n"+
				"         delegation: {actors: {support-bot: {roles: [agent]}}}}\n"+
				"  call_tokens: {key_file: %q, ttl: 30s}\n", delegIssuer, idp.jwksFile, keyFile)})
		tool := fmt.Sprintf("  crm_lookup: {type: http, method: POST, url: %q, permission: claims.read,\n"+
			"               call_token: {audience: %q},\n"+
			"               parameters: {type: object, properties: {customer_id: {type: string}, note: {type: string}}, required: [customer_id]}}\n",
			crm.URL+"/customers/{customer_id}", crmAudience)
		cfg = strings.Replace(cfg, "{{EXTRA}}", "", 1)
		cfg = strings.Replace(cfg, "agents:\n", tool+"agents:\n", 1)
		return strings.Replace(cfg, "tools: [claims_status, payments_lookup, policy_update]", "tools: [claims_status, crm_lookup]", 1)
	}})
}

func newKeyFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "call-token-key.pem")
	if err := callcred.Rotate(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// An HTTP tool checks each call's token with a JOSE library (pkg/calltoken
// over jwx, and jose in Node): signature, aud, exp, the tool and
// args_sha256 against what it received; the same token again, a token for
// another tool and changed arguments are refused; the caller's own token
// never reaches the tool.
func TestCallToken_HTTPToolVerifiesEachCall(t *testing.T) {
	idp := newDelegIdP(t)
	crm := newCRMTool(t)
	keyFile := newKeyFile(t)
	g := callTokenGateway(t, idp, crm, keyFile)
	jwksURL := g.base + "/.well-known/jwks.json"
	newVerifier := func(tool string, replay *calltoken.ReplayCache) *calltoken.Verifier {
		v, err := calltoken.New(calltoken.Config{JWKSURL: jwksURL, Issuer: publicURL, Audience: crmAudience, Tool: tool, Replay: replay})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	replay := calltoken.NewReplayCache(100)
	crm.mu.Lock()
	crm.verifier = newVerifier("crm_lookup", replay)
	crm.mu.Unlock()

	callerToken := idp.token(t, map[string]any{"sub": "support-bot"})
	r := g.call(testClient, "POST", "/v1/chat", callerToken, map[string]string{"message": "look up C-100"})
	if r.status != 200 || !strings.Contains(r.raw, "gold") {
		t.Fatalf("chat: %d %s", r.status, r.raw)
	}
	crm.mu.Lock()
	results, headers, tok := crm.results, crm.headers, crm.tokens[0]
	crm.mu.Unlock()
	if diff := cmp.Diff([]string{"ok"}, results); diff != "" {
		t.Fatalf("the tool's check (-want +got):\n%s", diff)
	}
	for name, vals := range headers[0] {
		for _, v := range vals {
			if strings.Contains(v, callerToken) || strings.Contains(v, strings.Split(callerToken, ".")[2]) {
				t.Errorf("the caller's token reached the tool in %s", name)
			}
		}
	}

	ctx := context.Background()
	var args map[string]any
	_ = json.Unmarshal([]byte(crmArgs), &args)
	c, err := newVerifier("crm_lookup", nil).Verify(ctx, tok, args)
	if err != nil {
		t.Fatalf("token verifies again without a replay cache: %v", err)
	}
	wantActors := []calltoken.Actor{{Subject: "agent:support_agent"}, {Subject: "support-bot"}}
	if c.Subject != "alice" || c.Issuer != publicURL || c.Tool != "crm_lookup" || c.RunID == "" ||
		!strings.HasPrefix(c.ID, c.RunID+"/") || c.Expiry.Sub(c.IssuedAt) != 30e9 || !cmp.Equal(wantActors, c.Actors) {
		t.Errorf("claims = %+v", c)
	}
	refusals := map[string]error{}
	_, refusals["replayed jti"] = crm.verifier.Verify(ctx, tok, args)
	_, refusals["another tool"] = newVerifier("crm_update", nil).Verify(ctx, tok, args)
	args["note"] = "<b>vip</b> & co, refund all"
	_, refusals["changed arguments"] = newVerifier("crm_lookup", nil).Verify(ctx, tok, args)
	other, _ := calltoken.New(calltoken.Config{JWKSURL: jwksURL, Audience: "https://billing.test"})
	_, refusals["another audience"] = other.Verify(ctx, tok, json.RawMessage(crmArgs))
	for name, err := range refusals {
		if err == nil || !strings.Contains(err.Error(), "invalid call token") {
			t.Errorf("%s: %v, want a refusal", name, err)
		}
	}

	// `gatehouse token verify` does the same check from a shell.
	argsFile := filepath.Join(t.TempDir(), "args.json")
	verifyCmd := func(args string) (string, error) {
		if err := os.WriteFile(argsFile, []byte(args), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		err := run(ctx, []string{"token", "verify", "--jwks", jwksURL, "--aud", crmAudience, "--iss", publicURL,
			"--tool", "crm_lookup", "--args", argsFile, "-"}, func(string) string { return "" }, strings.NewReader(tok), &out, &errOut)
		return out.String(), err
	}
	if out, err := verifyCmd(crmArgs); err != nil || !strings.Contains(out, `"Subject": "alice"`) || !strings.Contains(out, `"ArgumentsChecked": true`) {
		t.Errorf("token verify: %v\n%s", err, out)
	}
	if _, err := verifyCmd(`{"customer_id":"C-100","note":"other"}`); err == nil || !strings.Contains(err.Error(), "not the ones allowed") {
		t.Errorf("token verify with other arguments: %v", err)
	}

	// A rotation (new key first in the file, then a reload) publishes the
	// new key and the previous one: the token signed before still verifies.
	var rotOut bytes.Buffer
	if err := run(ctx, []string{"keys", "rotate-call-token", "--key-file", keyFile}, func(string) string { return "" }, nil, &rotOut, io.Discard); err != nil ||
		!strings.Contains(rotOut.String(), "new signing key") {
		t.Fatalf("keys rotate-call-token: %v %s", err, rotOut.String())
	}
	if r := g.do("POST", "/admin/reload", "admin", nil); r.status != 200 {
		t.Fatalf("reload: %d %s", r.status, r.raw)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if r := g.call(testClient, "GET", "/.well-known/jwks.json", "", nil); r.status != 200 || json.Unmarshal([]byte(r.raw), &set) != nil || len(set.Keys) != 2 {
		t.Fatalf("jwks after a rotation: %d %s", r.status, r.raw)
	}
	_ = json.Unmarshal([]byte(crmArgs), &args)
	if _, err := newVerifier("crm_lookup", nil).Verify(ctx, tok, args); err != nil {
		t.Errorf("token signed before the rotation: %v", err)
	}

	// The same check in Node with jose (the docs' snippet).
	env := map[string]string{"JWKS_URL": jwksURL, "ISSUER": publicURL, "AUDIENCE": crmAudience, "TOOL": "crm_lookup", "TOKEN": tok, "ARGS": crmArgs}
	if out := runNode(t, "verify-call-token.mjs", env); len(out) != 1 || out[0]["ok"] != true || out[0]["sub"] != "alice" {
		t.Errorf("jose: %v", out)
	}
	env["ARGS"] = `{"customer_id":"C-200","note":"<b>vip</b> & co"}`
	if out := runNode(t, "verify-call-token.mjs", env); len(out) != 1 || out[0]["ok"] != false {
		t.Errorf("jose with other arguments: %v", out)
	}
	env["ARGS"], env["TOOL"] = crmArgs, "crm_update"
	if out := runNode(t, "verify-call-token.mjs", env); len(out) != 1 || out[0]["ok"] != false {
		t.Errorf("jose with another tool: %v", out)
	}
}
