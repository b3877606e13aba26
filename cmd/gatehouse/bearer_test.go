package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// APP_BEARER_TOKEN outside --dev: a short token is a start-up error that
// does not quote it; a long one works and its use is logged by name only.
func TestAppBearerToken_ShortIsRefusedLongIsWarned(t *testing.T) {
	g := startGateway(t, gwOptions{})

	const short = "Zq7"
	env := map[string]string{"APP_BEARER_TOKEN": short, "APP_BEARER_ROLES": "admin"}
	for k, v := range g.env {
		env[k] = v
	}
	stderr, err := serveFails(t, g.cfgPath, env)
	if err == nil || !strings.Contains(err.Error(), "APP_BEARER_TOKEN") || !strings.Contains(err.Error(), "32") {
		t.Errorf("serve: %v; want an error naming APP_BEARER_TOKEN and its minimum", err)
	}
	if strings.Contains(err.Error(), short) || strings.Contains(stderr, short) {
		t.Errorf("the token's value was quoted: %v\n%s", err, stderr)
	}

	long := strings.Repeat("k", 32)
	lg := startGateway(t, gwOptions{env: map[string]string{"APP_BEARER_TOKEN": long, "APP_BEARER_ROLES": "admin"}})
	lg.keys["app"] = long
	if r := lg.do("GET", "/admin/audit?limit=1", "app", nil); r.status != 200 {
		t.Errorf("a 32-byte APP_BEARER_TOKEN: %d %s", r.status, r.raw)
	}
	logs := lg.stderr.String()
	if !strings.Contains(logs, `"level":"WARN"`) || !strings.Contains(logs, `"variable":"APP_BEARER_TOKEN"`) {
		t.Errorf("no warning naming APP_BEARER_TOKEN:\n%s", logs)
	}
	if strings.Contains(logs, long) {
		t.Error("the token's value appears in the log")
	}
}

// serveFails runs serve --config path and returns its log and error; it
// fails the test when serve starts listening instead.
func serveFails(t *testing.T, path string, env map[string]string) (string, error) {
	t.Helper()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", path}, func(k string) string { return env[k] }, nil, stdout, stderr)
	}()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case err := <-done:
			return stderr.String(), err
		case <-deadline:
			t.Fatal("serve neither started nor failed")
		case <-time.After(10 * time.Millisecond):
			if strings.Contains(stdout.String(), "gatehouse listening on ") {
				cancel()
				<-done
				t.Fatalf("serve started; want a start-up error")
			}
		}
	}
}

// Two Authorization headers are refused as an invalid token whatever their
// order, and nothing runs.
func TestAuth_SeveralAuthorizationHeadersAreRefused(t *testing.T) {
	g := startGateway(t, gwOptions{})
	for name, headers := range map[string][]string{
		"valid first": {"Bearer " + g.keys["admin"], "Bearer wrong"},
		"valid last":  {"Bearer wrong", "Bearer " + g.keys["admin"]},
		"valid twice": {"Bearer " + g.keys["admin"], "Bearer " + g.keys["admin"]},
	} {
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequest("POST", g.base+"/v1/chat", strings.NewReader(`{"message":"hi"}`))
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range headers {
				req.Header.Add("Authorization", h)
			}
			if r := g.send(req); r.status != 403 || r.str("error") != "invalid_token" {
				t.Errorf("%d %s; want 403 invalid_token", r.status, r.raw)
			}
		})
	}
	if g.upstream.Count() != 0 {
		t.Errorf("the model was called %d times", g.upstream.Count())
	}
}
