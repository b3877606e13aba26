package agent_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/authz/condition"
	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
	"github.com/gatehousehq/gatehouse/internal/llm/openai"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/store/sqlite"
	"github.com/gatehousehq/gatehouse/internal/tools/builtin"
	"github.com/gatehousehq/gatehouse/internal/tools/schema"
)

type noopSink struct{}

func (noopSink) Record(context.Context, ...audit.Event) error { return nil }

// BenchmarkRun is one whole run in-process, as the load harness's G does
// it: the real openai-go client against the scripted upstream over
// loopback, a payments_lookup call through the CEL-gated policy and the
// builtin tool, then the final answer. audit=noop isolates the run loop;
// audit=sqlite adds the fsync'd, HMAC-content audit log.
func BenchmarkRun(b *testing.B) {
	ctx := context.Background()
	_, url := llmtest.Start(b, func(_ int, req *llmtest.Request) llmtest.Reply {
		if req.Last().Role == "tool" {
			return llmtest.Reply{Content: "Customer C-100 made 2 payments."}
		}
		return llmtest.Reply{ToolCalls: []llmtest.ToolCall{llmtest.Call("call_1", "payments_lookup", `{"customer_id":"C-100"}`)}}
	})
	model, err := openai.New(openai.Config{BaseURL: url, APIKey: "sk-bench", Model: "bench-model", Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	demo, err := builtin.OpenDemo(ctx, "sqlite://"+filepath.Join(dir, "demo.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { demo.Close() })
	a := benchAgent(b, demo)
	perms := authz.NewPermissions(map[string][]string{"customer": {"respond", "claims.read", "payments.read"}}, nil)
	p := &principal.Principal{Subject: "customer", Roles: []string{"customer"}, Claims: map[string]any{"customer_id": "C-100"}, Method: principal.MethodAPIKey}

	st, err := sqlite.OpenAudit(ctx, filepath.Join(dir, "audit.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	log, err := audit.New(audit.Config{Store: st, ContentMode: audit.ContentHMAC, HMACKey: []byte("bench-audit-hmac-key-0123456789")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { log.Close() })

	for _, sink := range []struct {
		name string
		s    audit.Sink
	}{{"noop", noopSink{}}, {"sqlite", log}} {
		b.Run("audit="+sink.name, func(b *testing.B) {
			r := &agent.Runner{Model: model, Perms: perms, Audit: sink.s, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}
			n := 0
			b.ReportAllocs()
			for b.Loop() {
				n++
				id := strconv.Itoa(n)
				res, err := r.Run(ctx, agent.RunRequest{Agent: a, Principal: p, Message: "What payments has customer C-100 made?",
					RequestID: "req_" + id, RunID: "run_" + id, SessionID: "ses_bench"})
				if err != nil {
					b.Fatal(err)
				}
				if len(res.ToolCalls) != 1 || res.ToolCalls[0].Decision != "allow" {
					b.Fatalf("tool calls %+v", res.ToolCalls)
				}
			}
		})
	}
}

func benchAgent(b *testing.B, demo *builtin.DB) *agent.Agent {
	const src = `args.customer_id == principal.claims.customer_id || "admin" in principal.roles`
	env, err := condition.NewEnv()
	if err != nil {
		b.Fatal(err)
	}
	cond, err := env.Compile(src)
	if err != nil {
		b.Fatal(err)
	}
	impls := builtin.Tools(demo)
	a := &agent.Agent{Name: "support_agent", SystemMessage: "You are a concise support assistant for authenticated users.",
		Tools: map[string]*agent.Tool{}, Order: []string{"claims_status", "payments_lookup"},
		Limits: agent.Limits{MaxToolRounds: 4, MaxToolCalls: 32, MaxParallelTools: 4, ToolTimeout: 10 * time.Second, RunTimeout: 20 * time.Second}}
	for _, name := range a.Order {
		impl := impls[name]
		sch, err := schema.Compile(impl.Spec().Parameters)
		if err != nil {
			b.Fatal(err)
		}
		pol := authz.ToolPolicy{Tool: name, Permission: map[string]string{"claims_status": "claims.read", "payments_lookup": "payments.read"}[name]}
		if name == "payments_lookup" {
			info := condition.ToolInfo{Name: name, Permission: pol.Permission}
			pol.Source = src
			pol.Condition = func(ctx context.Context, p *principal.Principal, args map[string]any) (bool, error) {
				return cond.Eval(ctx, p, info, args)
			}
		}
		a.Tools[name] = &agent.Tool{Impl: impl, Policy: pol, Decode: sch.Decode}
	}
	return a
}
