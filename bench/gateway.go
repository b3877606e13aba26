package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gatehousehq/gatehouse/internal/app"
	"github.com/gatehousehq/gatehouse/internal/audit"
)

// The gateway child is this binary run with childEnv set; it reads its
// config path and switches from the environment.
const (
	childEnv      = "GATEHOUSE_BENCH_GATEWAY_CONFIG"
	childSinkEnv  = "GATEHOUSE_BENCH_SINK"  // sinkNoop or sinkFileLog
	childPprofEnv = "GATEHOUSE_BENCH_PPROF" // "1": serve net/http/pprof on a loopback debug listener
	auditKey      = "bench-audit-hmac-key-0123456789abcdef"

	sinkNoop    = "noop"
	sinkFileLog = "filelog"
	sinkNoTree  = "notree" // the real log, keeping no Merkle tree
	sinkMem     = "mem"    // no-op audit sink and in-memory sessions and released calls
)

// noopSink is G-noaudit's sink: every event is "recorded" at once. It is
// wired here only, through app.Options, and no config can select it.
type noopSink struct{}

func (noopSink) Record(context.Context, ...audit.Event) error { return nil }

// gatewayMain runs gatehouse until its stdin closes (the harness exited or
// stopped it), printing the base URL on stdout once it listens.
func gatewayMain(getenv func(string) string) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	if up := getenv(childBareEnv); up != "" {
		return bareProxyMain(ctx, up)
	}
	if getenv(childPprofEnv) != "" {
		stop, err := serveDebug()
		if err != nil {
			return err
		}
		defer stop()
	}
	opts := app.Options{
		ConfigPath: getenv(childEnv), Addr: "127.0.0.1:0", Getenv: getenv,
		Stderr: os.Stderr, LogLevel: slog.LevelWarn,
		Listening: func(base string) { fmt.Printf("listening %s\n", base) },
	}
	switch getenv(childSinkEnv) {
	case sinkNoop:
		opts.AuditSink = noopSink{}
	case sinkNoTree:
		opts.AuditNoTree = true
	case sinkMem:
		opts.AuditSink = noopSink{}
		opts.WrapSessions = wrapInMemory
	case sinkFileLog:
		l, closeLog, err := fileLogSink(filepath.Dir(opts.ConfigPath))
		if err != nil {
			return err
		}
		defer closeLog()
		opts.AuditSink = l
	}
	return app.Run(ctx, opts)
}

// fileLogSink is G-filelog's sink: the audit log as G's config sets it up
// (chain "main", content hmac, signed checkpoints), over a fileLog in dir.
func fileLogSink(dir string) (audit.Sink, func(), error) {
	st, err := openFileLog(filepath.Join(dir, "audit.filelog"), fileLogChunk)
	if err != nil {
		return nil, nil, err
	}
	key, err := audit.LoadOrCreateKey(filepath.Join(dir, "checkpoint.key"))
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	l, err := audit.New(audit.Config{Store: st, ChainID: "main", ContentMode: audit.ContentHMAC,
		HMACKey: []byte(auditKey), CheckpointKey: key})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return l, func() { l.Close(); st.Close() }, nil
}

// gateway is one running gatehouse child process.
type gateway struct {
	base  string
	pid   int
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan error
	term  bool   // stopped by SIGTERM (Portkey), not by closing stdin
	debug string // base URL of the pprof listener, when it has one
}

// gatewaySpec says how to configure one gateway.
type gatewaySpec struct {
	dir       string
	upstream  string // base URL ending in /v1
	apiKeyHex string // SHA-256 of the customer's key
	auditDSN  string
	jwksFile  string // non-empty adds the RS256 issuer
	cacheSize int
	sink      string // "", sinkNoop or sinkFileLog: replaces the configured audit log
	pprof     bool   // serve pprof on a loopback debug listener
	bare      bool   // a bare reverse proxy to upstream instead of gatehouse
	env       []string
	noDLP     bool // data protection off
}

const configTemplate = `server:
  addr: "127.0.0.1:0"
  request_timeout: 20s
  shutdown_timeout: 5s
model:
  provider: openai
  base_url: "{{UPSTREAM}}"
  model: bench-model
  api_key_env: BENCH_OPENAI_KEY
  timeout: 15s
  max_retries: 0
auth:
  api_keys:
    - {subject: customer, sha256: "{{KEYHASH}}", roles: [customer], claims: {customer_id: C-100}}
{{JWT}}
authz:
  roles:
    customer: [respond, claims.read, payments.read, llm.use, email.send]
tools:
  claims_status:   {type: builtin, permission: claims.read}
  payments_lookup: {type: builtin, permission: payments.read,
                    condition: 'args.customer_id == principal.claims.customer_id || "admin" in principal.roles'}
  policy_update:   {type: builtin, permission: policy.write}
  send_email:      {type: client, permission: email.send, condition: 'args.to.endsWith("@bank.example")',
                    description: "Send an e-mail",
                    parameters: {type: object, required: [to, subject, body],
                                 properties: {to: {type: string}, subject: {type: string}, body: {type: string}}}}
passthrough:
  models:
    ` + passModel + `: {permission: llm.use}
agents:
  support_agent:
    default: true
    system_message: "You are a concise support assistant for authenticated users."
    tools: [claims_status, payments_lookup, policy_update]
    max_tool_rounds: 4
audit:
  dsn: "{{AUDIT}}"
  content: hmac
  hmac_key_env: BENCH_AUDIT_KEY
  checkpoint_key_file: "{{DIR}}/checkpoint.key"
sessions:
  dsn: "sqlite://{{DIR}}/sessions.db"
data_protection:
  disabled: {{NODLP}}
  key_file: "{{DIR}}/vault.key"
demo:
  dsn: "sqlite://{{DIR}}/demo.db"
`

func (s gatewaySpec) config() string {
	jwt := ""
	if s.jwksFile != "" {
		jwt = fmt.Sprintf(`  jwt:
    cache_size: %d
    issuers:
      - {issuer: %q, audiences: [%s], jwks_file: %q, algorithms: [RS256]}`, s.cacheSize, jwtIssuer, jwtAudience, s.jwksFile)
	}
	auditDSN := s.auditDSN
	if auditDSN == "" {
		auditDSN = "sqlite://" + s.dir + "/audit.db"
	}
	return strings.NewReplacer("{{UPSTREAM}}", s.upstream, "{{KEYHASH}}", s.apiKeyHex, "{{JWT}}", jwt,
		"{{AUDIT}}", auditDSN, "{{DIR}}", s.dir, "{{NODLP}}", fmt.Sprint(s.noDLP)).Replace(configTemplate)
}

// startGateway writes the spec's config and starts the child, waiting until
// it listens.
func startGateway(ctx context.Context, s gatewaySpec, stderr io.Writer) (*gateway, error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(s.dir, "gatehouse.yaml")
	if err := os.WriteFile(cfgPath, []byte(s.config()), 0o600); err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"="+cfgPath, "BENCH_OPENAI_KEY=sk-bench", "BENCH_AUDIT_KEY="+auditKey)
	if s.sink != "" {
		cmd.Env = append(cmd.Env, childSinkEnv+"="+s.sink)
	}
	if s.pprof {
		cmd.Env = append(cmd.Env, childPprofEnv+"=1")
	}
	if s.bare {
		cmd.Env = append(cmd.Env, childBareEnv+"="+s.upstream)
	}
	cmd.Env = append(cmd.Env, s.env...)
	return startChild(ctx, cmd, stderr)
}

// startChild starts cmd and waits until it prints "listening BASE" on a
// line of its stdout.
func startChild(ctx context.Context, cmd *exec.Cmd, stderr io.Writer) (*gateway, error) {
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	g := &gateway{pid: cmd.Process.Pid, cmd: cmd, stdin: stdin, done: make(chan error, 1)}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			// The debug line comes first; the channel send below orders
			// this write before the reader's.
			if base, ok := strings.CutPrefix(sc.Text(), "pprof "); ok {
				g.debug = base
			}
			if base, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				select {
				case lines <- base:
				default:
				}
			}
		}
	}()
	go func() { g.done <- cmd.Wait() }()
	select {
	case g.base = <-lines:
		return g, nil
	case err := <-g.done:
		return nil, fmt.Errorf("exited before listening: %v", err)
	case <-time.After(30 * time.Second):
		g.stop()
		return nil, fmt.Errorf("did not start within 30 s")
	case <-ctx.Done():
		g.stop()
		return nil, ctx.Err()
	}
}

// stop closes the child's stdin (a gatehouse child's graceful shutdown;
// a child that ignores its stdin gets SIGTERM) and kills it if it has not
// exited within 15 s.
func (g *gateway) stop() {
	g.stdin.Close()
	if g.term {
		_ = g.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-g.done:
	case <-time.After(15 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.done
	}
}
