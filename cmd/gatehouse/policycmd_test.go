package main

import (
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/authn"
	"github.com/gatehousehq/gatehouse/internal/config"
	"github.com/gatehousehq/gatehouse/internal/devkey"
)

// writeDevConfig writes the config serve --dev writes (its users, keys and
// JWKS) into a temporary dir and returns its path.
func writeDevConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var users []config.DevUser
	for _, u := range config.DevUsers() {
		_, h, err := authn.NewKey()
		if err != nil {
			t.Fatal(err)
		}
		u.Hash = h
		users = append(users, u)
	}
	y, err := config.DevYAML(dir, users)
	if err != nil {
		t.Fatal(err)
	}
	key, err := devkey.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := key.PublicJWKS()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, config.DevJWKSFile), jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, config.DevConfigFile)
	if err := os.WriteFile(path, y, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// policyTest runs `gatehouse policy test args...` and returns its exit
// status and output.
func policyTest(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb syncBuffer
	err := run(context.Background(), append([]string{"policy", "test"}, args...), func(k string) string {
		if k == "GATEHOUSE_SELF" {
			return "/usr/bin/true"
		}
		return ""
	}, nil, &out, &errb)
	msg := errb.String()
	if err != nil {
		msg += err.Error()
	}
	return exitStatus(err), out.String(), msg
}

// junitFile is the part of a JUnit report the tests read.
type junitFile struct {
	Tests  int `xml:"tests,attr"`
	Fails  int `xml:"failures,attr"`
	Suites []struct {
		Name  string `xml:"name,attr"`
		Cases []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func readJUnit(t *testing.T, path string) junitFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var j junitFile
	if err := xml.Unmarshal(b, &j); err != nil {
		t.Fatalf("JUnit XML: %v\n%s", err, b)
	}
	return j
}

// TestPolicyTest_DevSuite runs the suite shipped for the dev config: every
// case passes and it covers every tool, grant and condition outcome.
func TestPolicyTest_DevSuite(t *testing.T) {
	cfg := writeDevConfig(t)
	junit := filepath.Join(t.TempDir(), "junit.xml")
	code, out, errs := policyTest(t, "--config", cfg, "--junit", junit, "--min-coverage", "100", filepath.Join("..", "..", "examples", "dev-policy.yaml"))
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"48 cases: 48 passed, 0 failed", "coverage 100.0%: tools 6/6, role and scope grants 11/11, condition outcomes 6/6"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	j := readJUnit(t, junit)
	if j.Tests != 48 || j.Fails != 0 || len(j.Suites) != 1 || j.Suites[0].Name != "dev-policy.yaml" || len(j.Suites[0].Cases) != 48 {
		t.Errorf("JUnit: %+v", j)
	}
}

// TestPolicyTest_ExitCodesOutputAndJUnit: 0 when every case passes, 1
// when one fails (named with expected and actual verdict, rule and reason,
// in the output and in JUnit), 2 when the config or a suite does not load.
func TestPolicyTest_ExitCodesOutputAndJUnit(t *testing.T) {
	cfg := writeDevConfig(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	passing := write("pass.yaml", `
cases:
  - {name: own payments, principal: {roles: [customer], claims: {customer_id: C-100}}, tool: payments_lookup, args: {customer_id: C-100}, expect: allow}
  - {name: agent is offered send_email, principal: {roles: [agent]}, tool: send_email, phase: list, expect: offered}
`)
	failing := write("fail.yaml", `
cases:
  - {name: own payments, principal: {roles: [customer], claims: {customer_id: C-100}}, tool: payments_lookup, args: {customer_id: C-100}, expect: allow}
  - {name: wrong expectation, principal: {roles: [customer], claims: {customer_id: C-100}}, tool: payments_lookup, args: {customer_id: C-200}, expect: allow}
  - {name: wrong rule, principal: {roles: [agent]}, tool: claims_status, args: {claim_id: CLM-1}, expect: allow, rule: "role:admin"}
`)
	badKey := write("badkey.yaml", "cases:\n  - {name: x, principal: {rolez: [agent]}, tool: claims_status, expect: allow}\n")
	badTool := write("badtool.yaml", "cases:\n  - {name: x, principal: {roles: [agent]}, tool: wire_money, expect: allow}\n")
	badExpect := write("badexpect.yaml", "cases:\n  - {name: x, principal: {roles: [agent]}, tool: claims_status, phase: list, expect: allow}\n")
	badCfg := write("badcfg.yaml", strings.Replace(mustRead(t, cfg), "args.to.endsWith", "args.too.endsWith", 1))

	tests := []struct {
		name     string
		args     []string
		code     int
		want     []string // in stdout + stderr
		junitOut bool
	}{
		{"all pass", []string{passing}, 0, []string{"2 cases: 2 passed, 0 failed"}, true},
		{"a case fails", []string{failing}, 1, []string{
			"FAIL fail.yaml/wrong expectation (call): expected allow, got deny",
			"    rule: condition of payments_lookup: args.customer_id == principal.claims.customer_id",
			"    reason: the tool's condition does not allow this call",
			"FAIL fail.yaml/wrong rule (call): expected allow, got allow",
			"    expected rule containing: role:admin",
			"    rule: role:agent grants claims.read",
			"3 cases: 1 passed, 2 failed",
			"policy test: 2 of 3 cases failed",
		}, true},
		{"--run keeps the matching cases", []string{"--run", "own payments$", failing}, 0, []string{"1 cases: 1 passed, 0 failed"}, false},
		{"coverage below the minimum", []string{"--min-coverage", "90", passing}, 1, []string{"not covered: tool kb_read: no case", "is below --min-coverage 90.0%"}, false},
		{"suite with an unknown key", []string{badKey}, 2, []string{"field rolez not found"}, false},
		{"suite naming an unknown tool", []string{badTool}, 2, []string{`tool "wire_money" is not in the config`}, false},
		{"expectation not of the phase", []string{badExpect}, 2, []string{`expect "allow": for phase list want one of [offered hidden]`}, false},
		{"suite file missing", []string{filepath.Join(dir, "nope.yaml")}, 2, []string{"no such file"}, false},
		{"config does not load", []string{"--config", badCfg, passing}, 2, []string{"tools.send_email.condition: 1:5: undefined field 'too'"}, false},
		{"no suite", nil, 2, []string{"usage: gatehouse policy test"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			junit := filepath.Join(t.TempDir(), "junit.xml")
			args := append([]string{"--config", cfg, "--junit", junit}, tt.args...)
			code, out, errs := policyTest(t, args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tt.code, out, errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(out+errs, w) {
					t.Errorf("output lacks %q:\n%s\n%s", w, out, errs)
				}
			}
			if !tt.junitOut {
				return
			}
			j := readJUnit(t, junit)
			var failures []string
			for _, s := range j.Suites {
				for _, c := range s.Cases {
					if c.Failure != nil {
						failures = append(failures, c.Name+": "+c.Failure.Message+" | "+strings.TrimSpace(c.Failure.Text))
					}
				}
			}
			if j.Fails != len(failures) {
				t.Errorf("JUnit failures attribute %d, elements %d", j.Fails, len(failures))
			}
			if tt.code == 0 && len(failures) != 0 {
				t.Errorf("JUnit failures for a passing run: %q", failures)
			}
			if tt.code == 1 {
				want := "wrong expectation: expected allow, got deny | rule: condition of payments_lookup"
				if len(failures) != 2 || !strings.HasPrefix(failures[0], want) || !strings.Contains(failures[0], "reason: the tool's condition does not allow this call") {
					t.Errorf("JUnit failures = %q, want 2, the first starting %q", failures, want)
				}
			}
		})
	}
}
