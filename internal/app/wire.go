package app

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/approval"
	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authn"
	"github.com/gatehousehq/gatehouse/internal/authn/jwtauth"
	"github.com/gatehousehq/gatehouse/internal/authn/mtls"
	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/authz/condition"
	"github.com/gatehousehq/gatehouse/internal/config"
	"github.com/gatehousehq/gatehouse/internal/console"
	"github.com/gatehousehq/gatehouse/internal/dlp"
	"github.com/gatehousehq/gatehouse/internal/dlp/secrets"
	"github.com/gatehousehq/gatehouse/internal/gate"
	"github.com/gatehousehq/gatehouse/internal/httpapi"
	"github.com/gatehousehq/gatehouse/internal/ids"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/llm/openai"
	mcpclient "github.com/gatehousehq/gatehouse/internal/mcp/client"
	"github.com/gatehousehq/gatehouse/internal/metrics"
	"github.com/gatehousehq/gatehouse/internal/passthrough"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/telemetry"
	"github.com/gatehousehq/gatehouse/internal/tools"
	"github.com/gatehousehq/gatehouse/internal/tools/builtin"
	"github.com/gatehousehq/gatehouse/internal/tools/httptool"
	"github.com/gatehousehq/gatehouse/internal/tools/schema"
)

// wiring is what building a runtime needs besides the config.
type wiring struct {
	getenv func(string) string
	log    *slog.Logger
	audit  audit.Sink
	demo   *builtin.DB // nil when only checking a config
	// modelOverride, when set, replaces the configured model (dev mode's
	// OpenAI-or-offline choice, and tests).
	modelOverride llm.Model
	// checkOnly builds everything that validates config, without a model.
	checkOnly bool
	// offlineMCP, with checkOnly, builds type: mcp tools without their
	// servers, to decide calls to them (policy test and diff).
	offlineMCP bool
	// dev is the quickstart (serve --dev), where the tutorial's short
	// APP_BEARER_TOKEN is still taken.
	dev bool
	// goTools are registered by an embedding Go program (package gatehouse).
	goTools map[string]GoTool
	// limiters keeps the rate limiter across reloads (nil: a new one each
	// time, as for config check).
	limiters *limiterCache
	// calls keeps released pass-through tool call ids (the session store).
	calls passthrough.CallStore
	// approvals keeps held pass-through turns (the session store).
	approvals approval.Store
	// tracer makes spans (a no-op tracer when tracing is off).
	tracer trace.Tracer
	// counter counts requests for server.rate_limit.shared (the session
	// store; nil when only checking a config).
	counter httpapi.RateCounter
	// metrics is the server's registry (nil when only checking a config).
	metrics *metrics.Metrics
	// mcp keeps the MCP servers' connections across reloads (nil when only
	// checking a config: no server is started).
	mcp *mcpSources
	// vault keeps data protection's tokens (the session store; nil when
	// only checking a config).
	vault dlp.Vault
	// secretRules loads gitleaks' rule set once per process: a reload does
	// not compile its two hundred expressions again.
	secretRules func() (*secrets.Detector, error)
	// live is the data protection the server log and the audit sink
	// scrub with; each runtime built sets it.
	live *dlp.Live
}

// limiterCache hands every runtime the limiter made for its
// server.rate_limit settings, so a reload that keeps them (a key rotated, a
// tool added) does not refill every caller's bucket. It remembers a few
// settings, not just the latest: a reload that is built and then refused
// must not cost the live limiter its place.
type limiterCache struct {
	mu      sync.Mutex
	entries []cachedLimiter // least recently asked for first
}

type cachedLimiter struct {
	rl config.RateLimit
	l  *httpapi.RateLimiter
}

// maxCachedLimiters bounds the settings remembered.
const maxCachedLimiters = 4

func (c *limiterCache) get(rl config.RateLimit) *httpapi.RateLimiter {
	if c == nil {
		return httpapi.NewRateLimiter(rl.RequestsPerMinute, rl.Burst)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, e := range c.entries {
		if e.rl == rl {
			c.entries = append(slices.Delete(c.entries, i, i+1), e)
			return e.l
		}
	}
	if len(c.entries) == maxCachedLimiters {
		c.entries = slices.Delete(c.entries, 0, 1)
	}
	e := cachedLimiter{rl, httpapi.NewRateLimiter(rl.RequestsPerMinute, rl.Burst)}
	c.entries = append(c.entries, e)
	return e.l
}

// buildRuntime turns a validated config into a Runtime. Errors name the
// config key they come from.
func buildRuntime(ctx context.Context, cfg *config.Config, w wiring) (*httpapi.Runtime, error) {
	var errs []error
	rt := &httpapi.Runtime{
		Perms:              authz.NewPermissions(cfg.Authz.Roles, cfg.Authz.Scopes),
		Agents:             map[string]*agent.Agent{},
		DefaultAgent:       cfg.DefaultAgent(),
		InvalidTokenStatus: cfg.Auth.InvalidTokenStatus,
		MaxBodyBytes:       cfg.Server.MaxBodyBytes,
		SessionMaxMessages: cfg.Sessions.MaxMessages,
		SessionMaxBytes:    cfg.Sessions.MaxBytes,
		RequestTimeout:     cfg.Server.RequestTimeout,
	}
	rt.MaxConcurrentRuns = cfg.Server.MaxConcurrentRuns
	if rl := cfg.Server.RateLimit; rl.RequestsPerMinute > 0 {
		if rl.Shared {
			rt.Limiter = &httpapi.SharedRateLimiter{Counter: w.counter, PerMinute: rl.RequestsPerMinute}
		} else {
			rt.Limiter = w.limiters.get(rl)
		}
	}

	chain, closeAuth, err := buildAuthn(ctx, cfg, w)
	if err != nil {
		errs = append(errs, err)
	}
	rt.Authn, rt.Close = chain, closeAuth
	if len(cfg.Auth.JWT.Issuers) > 0 {
		var iss []string
		for _, is := range cfg.Auth.JWT.Issuers {
			iss = append(iss, is.Issuer)
		}
		rt.ResourceMetadataURL = publicBase(cfg) + jwtauth.ProtectedResourceMetadataPath
		rt.ResourceMetadata = jwtauth.ProtectedResourceMetadata(publicBase(cfg), iss)
	}

	creds, err := buildCallCreds(cfg, w)
	if err != nil {
		errs = append(errs, err)
		creds = &callCreds{}
	}
	rt.CallTokenJWKS = creds.jwks
	gated, declareMCP, err := buildTools(cfg, w, creds)
	if err != nil {
		errs = append(errs, err)
	}
	rt.Tools = gated
	if o := cfg.Console.OIDC; o.Enabled() {
		rt.ConsoleOIDC = console.OIDC{Issuer: o.Issuer, ClientID: o.ClientID, Scopes: o.Scopes}
	}
	for name, ac := range cfg.Agents {
		a := &agent.Agent{
			Name: name, SystemMessage: ac.SystemMessage, Model: ac.Model,
			Tools: map[string]*agent.Tool{}, Order: ac.Tools,
			Limits: agent.Limits{
				MaxToolRounds: ac.MaxToolRounds, MaxToolCalls: ac.MaxToolCalls,
				MaxParallelTools: ac.MaxParallelTools, ToolTimeout: ac.ToolTimeout,
				RunTimeout: min(ac.RunTimeout, cfg.Server.RequestTimeout),
			},
		}
		for _, tn := range ac.Tools {
			if t, ok := gated[tn]; ok {
				a.Tools[tn] = t
			}
		}
		rt.Agents[name] = a
	}
	var model llm.Model
	if !w.checkOnly {
		model, err = buildModel(cfg, w)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		if rt.Close != nil {
			rt.Close()
		}
		return nil, err
	}
	modelID, provider := cfg.Model.Model, cfg.Model.Provider
	switch model.(type) {
	case llm.Offline:
		modelID, provider = llm.OfflineModelName, "gatehouse.offline"
	case *openai.Client:
		provider = "openai"
	}
	// Only a config that built declares its MCP tools (and so their pins):
	// a refused reload leaves the running declarations alone.
	declareMCP()
	if model != nil {
		model = w.metrics.Model(model, modelID, configuredModels(cfg))
		model = telemetry.Model{Next: model, Provider: provider, DefaultModel: modelID, Tracer: w.tracer}
	}
	data, err := buildData(cfg, w)
	if err != nil {
		if rt.Close != nil {
			rt.Close()
		}
		return nil, err
	}
	if w.live != nil && !w.checkOnly {
		w.live.Set(data)
	}
	rt.Gate = &gate.Gate{Perms: rt.Perms, Now: time.Now, Data: data}
	rt.Exec = &gate.Executor{Log: w.log, Now: time.Now, Data: data}
	rt.Runner = &agent.Runner{Model: model, DefaultModel: modelID, Perms: rt.Perms, Audit: w.audit, Log: w.log, Now: time.Now, Tracer: w.tracer, Gate: rt.Gate,
		Data: data, Exec: rt.Exec}
	rt.Passthrough = buildPassthrough(cfg, w, rt.Gate, model, gated)
	if rt.Passthrough != nil {
		rt.Passthrough.Data = data
	}
	rt.ServedTools = map[string]*agent.Tool{}
	for name, t := range gated {
		if cfg.Tools[name].Type != "client" {
			rt.ServedTools[name] = t
			rt.ToolOrder = append(rt.ToolOrder, name)
		}
	}
	slices.Sort(rt.ToolOrder)
	rt.Loaded = time.Now()
	return rt, nil
}

// buildPassthrough makes the pass-through service, nil without
// passthrough.models.
func buildPassthrough(cfg *config.Config, w wiring, g *gate.Gate, model llm.Model, gated map[string]*agent.Tool) *passthrough.Service {
	pc := cfg.Passthrough
	if len(pc.Models) == 0 {
		return nil
	}
	svc := &passthrough.Service{
		Perms: g.Perms, Gate: g, Tools: map[string]*agent.Tool{}, Models: map[string]passthrough.Model{},
		DropUndeclared: pc.UndeclaredTools == "drop", MaxRetries: *pc.MaxRetries,
		Upstream: upstream{model}, Calls: w.calls, Audit: w.audit, Now: time.Now,
		NewCallID: func() string { return ids.New("call_") }, Approvals: w.approvals,
	}
	for name, tc := range cfg.Tools {
		if tc.Type == "client" && gated[name] != nil {
			svc.Tools[name] = gated[name]
		}
	}
	for name, m := range pc.Models {
		svc.Models[name] = passthrough.Model{Name: name, Upstream: m.Upstream, Permission: m.Permission, HostedTools: m.HostedTools}
	}
	return svc
}

func buildModel(cfg *config.Config, w wiring) (llm.Model, error) {
	if w.modelOverride != nil {
		return w.modelOverride, nil
	}
	m := cfg.Model
	switch m.Provider {
	case "offline":
		return llm.Offline{}, nil
	case "openai":
		key := w.getenv(m.APIKeyEnv)
		if key == "" && m.BaseURL == "" {
			return nil, fmt.Errorf("model: provider openai needs an API key in $%s (model.api_key_env)", m.APIKeyEnv)
		}
		if key == "" {
			key = "unused" // many OpenAI-compatible servers need no key
		}
		o, err := openai.New(openai.Config{BaseURL: m.BaseURL, APIKey: key, Model: m.Model, Timeout: m.Timeout, MaxRetries: *m.MaxRetries})
		if err != nil {
			return nil, fmt.Errorf("model: %w", err)
		}
		return o, nil
	}
	return nil, fmt.Errorf("model.provider: unknown provider %q", m.Provider)
}

// appBearerEnv names the tutorial's static bearer token.
const appBearerEnv = "APP_BEARER_TOKEN"

// minAppBearerBytes is the shortest APP_BEARER_TOKEN taken outside dev mode:
// it is compared by hash like an API key, so only its length keeps it from
// being guessed.
const minAppBearerBytes = 32

func buildAuthn(ctx context.Context, cfg *config.Config, w wiring) (*authn.Chain, func(), error) {
	chain := &authn.Chain{}
	closeFn := func() {}
	var keys []authn.APIKey
	for i, k := range cfg.Auth.APIKeys {
		d, err := authn.ParseDigest(k.SHA256)
		if err != nil {
			return nil, closeFn, fmt.Errorf("auth.api_keys[%d].sha256: %w", i, err)
		}
		keys = append(keys, authn.APIKey{Digest: d, Subject: k.Subject, Roles: k.Roles, Claims: k.Claims})
	}
	// Tutorial parity: one static bearer token from the environment.
	if tok := w.getenv(appBearerEnv); tok != "" {
		if !w.dev && len(tok) < minAppBearerBytes {
			// Its length only: the value is a credential.
			return nil, closeFn, fmt.Errorf("%s is %d bytes; outside --dev it must be at least %d (gatehouse keys new makes one), or better, use auth.api_keys",
				appBearerEnv, len(tok), minAppBearerBytes)
		}
		roles := SplitList(w.getenv("APP_BEARER_ROLES"))
		if len(roles) == 0 {
			roles = []string{"agent"}
		}
		w.log.Warn("a static bearer token from the environment is accepted; prefer auth.api_keys or JWT",
			"variable", appBearerEnv, "subject", "app-token", "roles", roles)
		keys = append(keys, authn.APIKey{Digest: sha256Sum(tok), Subject: "app-token", Roles: roles})
	}
	if len(cfg.Auth.JWT.Issuers) > 0 {
		jc := jwtauth.Config{Logger: w.log, CacheSize: cfg.Auth.JWT.CacheSize}
		if w.metrics != nil {
			jc.Refreshes = w.metrics
		}
		for i, is := range cfg.Auth.JWT.Issuers {
			ic := jwtauth.IssuerConfig{
				Issuer: is.Issuer, Audiences: is.Audiences, JWKSURL: is.JWKSURL, Algorithms: is.Algorithms,
				RolesClaim: is.RolesClaim, SubjectClaim: is.SubjectClaim, Leeway: is.Leeway, RequiredTyp: is.RequiredTyp,
				MinRefreshInterval: is.MinRefreshInterval, MaxKeyAge: is.MaxKeyAge, InsecureAllowHTTP: is.InsecureAllowHTTP,
				Delegation: delegation(is.Delegation),
			}
			if is.JWKSFile != "" {
				b, err := os.ReadFile(is.JWKSFile)
				if err != nil {
					return nil, closeFn, fmt.Errorf("auth.jwt.issuers[%d].jwks_file: %w", i, err)
				}
				ic.JWKS = b
			}
			jc.Issuers = append(jc.Issuers, ic)
		}
		if w.checkOnly {
			// Everything New checks, without fetching keys.
			if err := jwtauth.Check(jc); err != nil {
				return nil, closeFn, fmt.Errorf("auth.jwt: %w", err)
			}
		} else {
			v, err := jwtauth.New(ctx, jc)
			if err != nil {
				return nil, closeFn, fmt.Errorf("auth.jwt: %w", err)
			}
			closeFn = func() { v.Close() }
			chain.Verifiers = append(chain.Verifiers, v)
		}
	}
	// API keys last: a JWT-shaped token is judged by its issuer, anything
	// else by the key list.
	chain.Verifiers = append(chain.Verifiers, authn.NewAPIKeys(keys))
	if cfg.Server.TLS.ClientCAFile != "" {
		ca, err := buildMTLS(cfg)
		if err != nil {
			return nil, closeFn, err
		}
		chain.Cert = ca
	}
	return chain, closeFn, nil
}

// buildTools builds the config's tools; declare then declares its MCP
// tools to their servers, once the whole runtime has built.
func buildTools(cfg *config.Config, w wiring, creds *callCreds) (_ map[string]*agent.Tool, declare func(), _ error) {
	env, err := condition.NewEnv()
	if err != nil {
		return nil, func() {}, fmt.Errorf("tools: %w", err)
	}
	impls := builtin.Tools(w.demo)
	var errs []error
	out := map[string]*agent.Tool{}
	decls := map[string][]mcpclient.Decl{}
	for name, tc := range cfg.Tools {
		key := "tools." + name
		var impl tools.Tool
		var decode func([]byte) (tools.Args, error)
		switch tc.Type {
		case "builtin":
			impl = impls[name]
			if w.demo == nil && !w.checkOnly {
				// The demo database is opened at start only when the config
				// then used a builtin tool.
				errs = append(errs, fmt.Errorf("%s: builtin tools need the demo database, opened at start only when a builtin tool is configured; restart gatehouse to add the first one", key))
				continue
			}
		case "http":
			params, err := json.Marshal(tc.Parameters)
			if err != nil || tc.Parameters == nil {
				params = tools.EmptySchema()
			}
			cred, err := creds.forTool(name, tc, w)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", key, err))
				continue
			}
			ht, err := httptool.New(httptool.Config{
				Name: name, Description: tc.Description, Method: tc.Method, URL: tc.URL,
				Headers: tc.Headers, Parameters: params, Timeout: tc.Timeout, MaxResponseBytes: tc.MaxResponseBytes,
				Credential: cred,
			})
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", key, err))
				continue
			}
			impl = ht
		case "go":
			if t, ok := w.goTools[name]; ok {
				impl = t.Impl
			}
		case "client":
			params, err := json.Marshal(tc.Parameters)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s.parameters: %w", key, err))
				continue
			}
			impl = tools.NewClient(tools.Spec{Name: name, Description: tc.Description, Parameters: params})
		case "mcp":
			// The schema comes from the server, at run time: the tool
			// decodes each call against what the server presents now.
			if w.mcp == nil && w.offlineMCP {
				impl, decode = offlineMCPTool(name, tc)
				break
			}
			if w.mcp == nil {
				continue // checking a config: no server is started
			}
			src, err := w.mcp.get(tc.Server, cfg.MCPServers[tc.Server])
			if err != nil {
				errs = append(errs, fmt.Errorf("%s.server: %w", key, err))
				continue
			}
			decls[tc.Server] = append(decls[tc.Server], mcpclient.Decl{Name: name, Remote: tc.MCPTool, Pin: tc.Pin})
			cred, err := creds.forMCP(name, cfg.MCPServers[tc.Server], w)
			if err != nil {
				errs = append(errs, fmt.Errorf("mcp_servers.%s: %w", tc.Server, err))
				continue
			}
			mt := mcpclient.NewTool(src, name, tc.MCPTool).WithCredential(cred)
			impl, decode = mt, mt.Decode
		}
		if impl == nil {
			errs = append(errs, fmt.Errorf("%s: no implementation", key))
			continue
		}
		if decode == nil {
			sch, err := schema.Compile(impl.Spec().Parameters)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s.parameters: %w", key, err))
				continue
			}
			decode = sch.Decode
		}
		// The arguments' schema types args in conditions; an MCP server's
		// tool has none here (it comes from the server, at run time).
		var argsSchema json.RawMessage
		if tc.Type != "mcp" {
			argsSchema = impl.Spec().Parameters
		}
		pol := authz.ToolPolicy{Tool: name, Permission: tc.Permission, Source: tc.Condition}
		if strings.TrimSpace(tc.Condition) != "" {
			cond, err := env.CompileFor(tc.Condition, argsSchema)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s.condition: %w (in %q)", key, err, tc.Condition))
				continue
			}
			info := condition.ToolInfo{Name: name, Permission: tc.Permission}
			pol.ClaimsRead, pol.AllClaims = cond.ClaimsRead()
			pol.Condition = func(ctx context.Context, p *principal.Principal, args map[string]any) (bool, error) {
				return cond.Eval(ctx, p, info, args)
			}
		}
		if tc.Approval != nil {
			rule, err := buildApproval(env, name, tc, argsSchema)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s.approval.when: %w (in %q)", key, err, tc.Approval.When))
				continue
			}
			pol.Approval = rule
			if rule.When != nil {
				// buildApproval compiled it: it compiles here too.
				when, _ := env.Compile(tc.Approval.When)
				names, all := when.ClaimsRead()
				pol.ClaimsRead = slices.Compact(slices.Sorted(slices.Values(append(pol.ClaimsRead, names...))))
				pol.AllClaims = pol.AllClaims || all
			}
		}
		out[name] = &agent.Tool{Impl: impl, Policy: pol, Decode: decode}
	}
	declare = func() {
		if w.mcp == nil {
			return
		}
		for server := range cfg.MCPServers {
			if src, err := w.mcp.get(server, cfg.MCPServers[server]); err == nil {
				src.Declare(decls[server])
			}
		}
	}
	return out, declare, errors.Join(errs...)
}

// configuredModels are the model names config holds (agents' models and
// pass-through upstreams): the only model labels metrics use.
func configuredModels(cfg *config.Config) []string {
	names := []string{cfg.Model.Model}
	for _, a := range cfg.Agents {
		if a.Model != "" {
			names = append(names, a.Model)
		}
	}
	for name, m := range cfg.Passthrough.Models {
		names = append(names, name, m.Upstream)
	}
	return names
}

func sha256Sum(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// SplitList splits a comma-separated list, dropping empty items.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func usesBuiltin(cfg *config.Config) bool {
	for _, t := range cfg.Tools {
		if t.Type == "builtin" {
			return true
		}
	}
	return false
}

func buildMTLS(cfg *config.Config) (*mtls.Authenticator, error) {
	ids := make([]mtls.Identity, 0, len(cfg.Auth.MTLS.Identities))
	for _, id := range cfg.Auth.MTLS.Identities {
		ids = append(ids, mtls.Identity{Match: id.Match, Roles: id.Roles})
	}
	a, err := mtls.New(ids)
	if err != nil {
		return nil, fmt.Errorf("auth.mtls: %w", err)
	}
	return a, nil
}

// upstream streams a pass-through turn through the configured model; the
// tool-call fragments stay with the adapter, which assembles the turn.
type upstream struct{ model llm.Model }

func (u upstream) Stream(ctx context.Context, req llm.Request, onContent func(string) error) (*llm.Response, error) {
	if onContent == nil {
		return u.model.Complete(ctx, req)
	}
	return llm.Stream(ctx, u.model, req, func(d llm.Delta) error {
		if d.Content == "" {
			return nil
		}
		return onContent(d.Content)
	})
}
