package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/gatehousehq/gatehouse/internal/authn"
)

// Scenario names, in table order.
const (
	scD          = "D"
	scD1         = "D1"
	scPortkey    = "Portkey"
	scGP         = "GP"
	scGPNoAudit  = "GP-noaudit"
	scGPFileLog  = "GP-filelog"
	scGR         = "GR"
	scDStream    = "D-stream"
	scGStream    = "G-stream"
	scGStreamFL  = "G-stream-filelog"
	scG          = "G"
	scJWT        = "G-jwt"
	scJWTNoCache = "G-jwt-nocache"
	scNoAudit    = "G-noaudit"
	scFileLog    = "G-filelog"
	scPG         = "G-pg"
	scGNoDLP     = "G-nodlp"
	scGPNoDLP    = "GP-nodlp"
	scGNoTree    = "G-notree"
	scGMem       = "G-mem"
	scGPMem      = "GP-mem"
	scGPBare     = "GP-bare"
	scGBare      = "G-bare"
	jwtIssuer    = "https://idp.bench.gatehouse.test"
	jwtAudience  = "gatehouse"
)

// allScenarios are every scenario, in table order; defaultScenarios are
// those a plain run measures (the issue's).
var (
	allScenarios     = []string{scD1, scPortkey, scGPBare, scGP, scGR, scGPMem, scGPNoAudit, scGPFileLog, scGPNoDLP, scD, scGBare, scG, scGMem, scNoAudit, scFileLog, scGNoDLP, scJWT, scJWTNoCache, scPG, scGNoTree, scDStream, scGStream, scGStreamFL}
	defaultScenarios = []string{scD1, scPortkey, scGPBare, scGP, scGR, scGPMem, scGPFileLog, scD, scGBare, scG, scGMem, scFileLog, scDStream, scGStream, scGStreamFL}
)

// openOnly are the scenarios measured in open loop only: their latency is
// time to first content byte, which saturation does not tell about.
var openOnly = map[string]bool{scDStream: true, scGStream: true, scGStreamFL: true}

var descriptions = map[string]string{
	scD1:         "floor for one request: the generator sends GP's request to the upstream itself",
	scPortkey:    "the peer: GP's request through the Portkey gateway (npm @portkey-ai/gateway, no auth, no audit), x-portkey-provider openai + custom host",
	scGP:         "/v1/chat/completions governed pass-through: API key, the client tool send_email checked and offered, SQLite audit (run.started + run.finished durable)",
	scGR:         "GP's request on /v1/responses (the Responses API) to the same pass-through model, translated to Chat Completions upstream",
	scGPNoAudit:  "GP with a no-op audit sink wired by the harness (no config reaches it)",
	scGPBare:     "floor for a Go gateway: GP's request through the standard library's httputil.ReverseProxy (net/http server and client, nothing else)",
	scGPMem:      "GP with nothing durable: a no-op audit sink and in-memory sessions and released calls, wired by the harness (no config reaches them)",
	scGPFileLog:  "GP's audit log over the bare preallocated file of G-filelog (harness only)",
	scD:          "floor for a run: the generator makes the two upstream calls itself",
	scDStream:    "floor for streaming: time to the upstream's first content byte, asked directly (stream: true)",
	scGStream:    "time to first content byte through the agent model on /v1/chat/completions (stream: true), SQLite audit",
	scGStreamFL:  "G-stream's audit log over the bare preallocated file of G-filelog (harness only)",
	scG:          "/v1/chat: API key, CEL-gated payments_lookup, builtin tool, SQLite audit (fsync, content: hmac)",
	scJWT:        "G with an RS256 JWT instead of the API key, verified-token cache on",
	scJWTNoCache: "G with an RS256 JWT, cache off (auth.jwt.cache_size: -1): a signature check per run",
	scNoAudit:    "G with a no-op audit sink wired by the harness (no config reaches it)",
	scGBare:      "floor for a Go agent gateway: a net/http handler making D's two upstream calls (nothing else)",
	scGMem:       "G with nothing durable: a no-op audit sink and in-memory sessions and released calls, wired by the harness (no config reaches them)",
	scFileLog:    "G's audit log over a bare preallocated file, one write + fdatasync per group commit (harness only): the ceiling of any durable store here",
	scPG:         "G with the audit log on PostgreSQL",
	scGNoDLP:     "G with data protection off (data_protection.disabled); G and GP run its detectors on every message, result and answer",
	scGPNoDLP:    "GP with data protection off (data_protection.disabled)",
	scGNoTree:    "G without the audit log's Merkle tree (harness only): the tree's cost on the hot path",
}

// sinks are the scenarios whose audit sink the harness replaces.
var sinks = map[string]string{scNoAudit: sinkNoop, scFileLog: sinkFileLog, scGPNoAudit: sinkNoop, scGPFileLog: sinkFileLog, scGStreamFL: sinkFileLog, scGNoTree: sinkNoTree,
	scGMem: sinkMem, scGPMem: sinkMem}

func known(s string) bool {
	_, ok := descriptions[s]
	return ok
}

// target is one scenario ready to be loaded.
type target struct {
	name string
	gw   *gateway // nil for the floors (D, D1, D-stream)
	run  runFunc
	note string // why it was skipped, when run is nil
}

// env is everything set up for a harness run.
type env struct {
	dir      string
	upstream string
	// key is the customer's API key, keyHex its SHA-256 as configured.
	key, keyHex string
	targets     []*target
	closers     []func()
}

func (e *env) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
}

func (e *env) target(name string) *target {
	for _, t := range e.targets {
		if t.name == name {
			return t
		}
	}
	return nil
}

// setup starts the upstream and one gateway per G scenario.
func setup(ctx context.Context, o options, stderr io.Writer) (*env, error) {
	dir, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		return nil, err
	}
	e := &env{dir: dir}
	e.closers = append(e.closers, func() { os.RemoveAll(dir) })
	up, stopUp, err := startUpstream(o.delay)
	if err != nil {
		e.close()
		return nil, err
	}
	e.upstream = up
	e.closers = append(e.closers, stopUp)
	key, keyHex, err := authn.NewKey()
	if err != nil {
		e.close()
		return nil, err
	}
	e.key, e.keyHex = key, keyHex
	client := newClient(max(o.conns, 64))
	for _, name := range o.scenarios {
		t := &target{name: name}
		e.targets = append(e.targets, t)
		switch name {
		case scD:
			t.run = direct(client, up)
			continue
		case scD1:
			t.run = directPass(client, up)
			continue
		case scDStream:
			t.run = streamRun(client, up+"/chat/completions", streamBody("bench-model"), "sk-bench")
			continue
		case scPortkey:
			gw, err := startPortkey(ctx, o.portkeyDir, stderr)
			if err != nil {
				t.note = err.Error()
				continue
			}
			e.closers = append(e.closers, gw.stop)
			t.gw = gw
			t.run = viaPortkey(client, gw.base, up)
			continue
		}
		spec := gatewaySpec{dir: filepath.Join(dir, name), upstream: up, apiKeyHex: keyHex, sink: sinks[name],
			noDLP: name == scGNoDLP || name == scGPNoDLP, bare: name == scGPBare || name == scGBare, env: o.gwEnv}
		tokens := []string{key}
		spec.pprof = o.profileDir != "" && slices.Contains(profiled, name)
		switch name {
		case scJWT, scJWTNoCache:
			jwks, toks, err := rsaIssuer(16)
			if err != nil {
				e.close()
				return nil, err
			}
			spec.jwksFile = filepath.Join(dir, name+"-jwks.json")
			if err := os.WriteFile(spec.jwksFile, jwks, 0o600); err != nil {
				e.close()
				return nil, err
			}
			tokens = toks
			if name == scJWTNoCache {
				spec.cacheSize = -1
			}
		case scPG:
			dsn, drop, err := scratchDatabase(ctx, o.pgDSN)
			if err != nil {
				t.note = err.Error()
				continue
			}
			e.closers = append(e.closers, drop)
			spec.auditDSN = dsn
		}
		gw, err := startGateway(ctx, spec, stderr)
		if err != nil {
			e.close()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		e.closers = append(e.closers, gw.stop)
		t.gw = gw
		switch name {
		case scGPBare:
			t.run = passRequest(client, gw.base+"/v1/chat/completions", nil)
		case scGP, scGPNoAudit, scGPFileLog, scGPNoDLP, scGPMem:
			t.run = viaPassthrough(client, gw.base, key)
		case scGR:
			t.run = viaResponses(client, gw.base, key)
		case scGStream, scGStreamFL:
			t.run = streamRun(client, gw.base+"/v1/chat/completions", streamBody("support_agent"), key)
		default:
			t.run = viaGateway(client, gw.base, tokens)
		}
	}
	return e, nil
}

// rsaIssuer makes an RS256 key, its public JWKS and n tokens for the
// customer (distinct subjects, customer_id C-100, an hour to live).
func rsaIssuer(n int) ([]byte, []string, error) {
	raw, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	priv, err := jwk.Import(raw)
	if err != nil {
		return nil, nil, err
	}
	if err := priv.Set(jwk.KeyIDKey, "bench-1"); err != nil {
		return nil, nil, err
	}
	if err := priv.Set(jwk.AlgorithmKey, jwa.RS256()); err != nil {
		return nil, nil, err
	}
	pub, err := priv.PublicKey()
	if err != nil {
		return nil, nil, err
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		return nil, nil, err
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now().Truncate(time.Second)
	var toks []string
	for i := range n {
		tok, err := jwt.NewBuilder().Issuer(jwtIssuer).Audience([]string{jwtAudience}).
			Subject(fmt.Sprintf("customer-%d", i)).IssuedAt(now).NotBefore(now).Expiration(now.Add(time.Hour)).
			Claim("roles", []string{"customer"}).Claim("customer_id", "C-100").Build()
		if err != nil {
			return nil, nil, err
		}
		signed, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256(), priv))
		if err != nil {
			return nil, nil, err
		}
		toks = append(toks, string(signed))
	}
	return jwks, toks, nil
}

// scratchDatabase creates a fresh database next to the one dsn names and
// returns its DSN and a func dropping it.
func scratchDatabase(ctx context.Context, dsn string) (string, func(), error) {
	if dsn == "" {
		return "", nil, fmt.Errorf("no PostgreSQL DSN (-pg)")
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, dsn)
	if err != nil {
		return "", nil, fmt.Errorf("PostgreSQL unreachable: %w", err)
	}
	defer conn.Close(context.Background())
	name := fmt.Sprintf("gh_bench_%d_%d", os.Getpid(), time.Now().Unix())
	if _, err := conn.Exec(cctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, err
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(dctx, dsn)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(dctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
	return u.String(), drop, nil
}
