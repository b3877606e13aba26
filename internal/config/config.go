// Package config defines gatehouse's configuration: the YAML shape, loading
// with ${ENV} expansion, defaults, and validation whose messages name the key.
package config

import (
	"time"
)

// Config is the whole gatehouse configuration. Unknown keys are an error.
type Config struct {
	Server   Server           `yaml:"server"`
	Model    Model            `yaml:"model"`
	Auth     Auth             `yaml:"auth"`
	Authz    Authz            `yaml:"authz"`
	Tools    map[string]Tool  `yaml:"tools"`
	Agents   map[string]Agent `yaml:"agents"`
	Audit    Audit            `yaml:"audit"`
	Sessions Sessions         `yaml:"sessions"`
	Demo     Demo             `yaml:"demo"`
	// Passthrough configures governed pass-through (OpenAI-compatible API).
	Passthrough Passthrough `yaml:"passthrough"`
	// Console configures the web console (OIDC sign-in).
	Console Console `yaml:"console"`
	// Telemetry configures OpenTelemetry tracing.
	Telemetry Telemetry `yaml:"telemetry"`
	// MCPServers are the MCP servers whose tools type: mcp tools declare.
	MCPServers map[string]MCPServer `yaml:"mcp_servers"`
	// DataProtection configures detectors and their actions.
	DataProtection DataProtection `yaml:"data_protection"`

	// goTools names the tools an embedding Go program registered (type go).
	goTools map[string]bool
	// expanded maps each value a ${VAR} expanded to, to VAR (see Redact).
	expanded map[string]string
}

// Server holds the listener and request limits.
type Server struct {
	Addr string `yaml:"addr"`
	// MetricsAddr, when set, serves GET /metrics there without
	// authentication (an internal port); empty serves it on addr to callers
	// with the metrics permission.
	MetricsAddr string `yaml:"metrics_addr"`
	// PublicURL is how clients reach this service (RFC 9728 metadata);
	// default derived from addr.
	PublicURL      string        `yaml:"public_url"`
	MaxBodyBytes   int64         `yaml:"max_body_bytes"`
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// MaxConcurrentRuns bounds agent runs in flight; beyond it a chat gets
	// 503 overloaded (so overload cannot grow queues and memory without end).
	MaxConcurrentRuns int           `yaml:"max_concurrent_runs"`
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout"`
	RateLimit         RateLimit     `yaml:"rate_limit"`
	TLS               TLS           `yaml:"tls"`
}

// RateLimit is a per-subject token bucket. Zero requests_per_minute disables it.
type RateLimit struct {
	RequestsPerMinute int `yaml:"requests_per_minute"`
	Burst             int `yaml:"burst"`
	// Shared keeps the buckets in the sessions store (PostgreSQL), so
	// replicas on one database share each subject's limit; false: each
	// replica limits on its own.
	Shared bool `yaml:"shared"`
}

// TLS turns on HTTPS; ClientCAFile turns on mTLS client authentication.
type TLS struct {
	CertFile     string `yaml:"cert_file"`
	KeyFile      string `yaml:"key_file"`
	ClientCAFile string `yaml:"client_ca_file"`
}

// Model configures the model provider.
type Model struct {
	Provider   string        `yaml:"provider"` // openai | offline
	BaseURL    string        `yaml:"base_url"`
	Model      string        `yaml:"model"`
	APIKeyEnv  string        `yaml:"api_key_env"`
	Timeout    time.Duration `yaml:"timeout"`
	MaxRetries *int          `yaml:"max_retries"`
}

// Auth configures authentication.
type Auth struct {
	InvalidTokenStatus int      `yaml:"invalid_token_status"`
	APIKeys            []APIKey `yaml:"api_keys"`
	JWT                JWT      `yaml:"jwt"`
	MTLS               MTLS     `yaml:"mtls"`
	// CallTokens signs the per-call JWTs of tools with call_token.
	CallTokens CallTokens `yaml:"call_tokens"`
}

// APIKey is a configured key: only its SHA-256 digest is stored.
type APIKey struct {
	Subject string            `yaml:"subject"`
	SHA256  string            `yaml:"sha256"`
	Roles   []string          `yaml:"roles"`
	Claims  map[string]string `yaml:"claims"`
}

// JWT lists trusted token issuers.
type JWT struct {
	Issuers []Issuer `yaml:"issuers"`
	// CacheSize bounds the verified-token cache (entries): 0 is the default
	// (10000), negative turns the cache off.
	CacheSize int `yaml:"cache_size"`
}

// Issuer is one trusted JWT issuer.
type Issuer struct {
	Issuer             string        `yaml:"issuer"`
	Audiences          []string      `yaml:"audiences"`
	JWKSURL            string        `yaml:"jwks_url"`
	JWKSFile           string        `yaml:"jwks_file"`
	Algorithms         []string      `yaml:"algorithms"`
	RolesClaim         string        `yaml:"roles_claim"`
	SubjectClaim       string        `yaml:"subject_claim"`
	Leeway             time.Duration `yaml:"leeway"`
	RequiredTyp        string        `yaml:"required_typ"`
	MinRefreshInterval time.Duration `yaml:"min_refresh_interval"`
	MaxKeyAge          time.Duration `yaml:"max_key_age"`
	// InsecureAllowHTTP permits plain-http issuer and JWKS URLs off loopback.
	InsecureAllowHTTP bool `yaml:"insecure_allow_http"`
	// Delegation accepts tokens with an RFC 8693 act claim (see
	// docs/identity.md); without it such tokens are refused.
	Delegation *Delegation `yaml:"delegation"`
}

// Delegation lists the actors that may act for an issuer's subjects.
type Delegation struct {
	MaxChain   int                        `yaml:"max_chain"`
	RequireAct bool                       `yaml:"require_act"`
	Actors     map[string]DelegationActor `yaml:"actors"` // by act.sub or client_id
	// Grants is what a delegated call holds: "intersection" (default) of
	// the subject's and every actor's grants, or "subject" — the issuer
	// vouches for its actors, which bound nothing of their own (they are
	// still checked against actors, recorded, and seen by conditions).
	Grants string `yaml:"grants"`
}

// DelegationActor is one actor: the most it may do, and for whom.
type DelegationActor struct {
	Roles    []string `yaml:"roles"`
	Subjects []string `yaml:"subjects"` // empty: any subject
}

// MTLS maps verified client certificate identities to roles.
type MTLS struct {
	Identities []Identity `yaml:"identities"`
}

// Identity maps a certificate identity (URI SAN or CN) to roles.
type Identity struct {
	Match string   `yaml:"match"`
	Roles []string `yaml:"roles"`
}

// Authz maps roles and OAuth scopes to permissions.
type Authz struct {
	Roles  map[string][]string `yaml:"roles"`
	Scopes map[string][]string `yaml:"scopes"`
}

// Tool declares a tool and its policy.
type Tool struct {
	Type             string            `yaml:"type"` // builtin | http | go | client | mcp
	Permission       string            `yaml:"permission"`
	Condition        string            `yaml:"condition"`
	Description      string            `yaml:"description"`
	Method           string            `yaml:"method"`
	URL              string            `yaml:"url"`
	Headers          map[string]string `yaml:"headers"`
	Parameters       map[string]any    `yaml:"parameters"`
	Timeout          time.Duration     `yaml:"timeout"`
	MaxResponseBytes int64             `yaml:"max_response_bytes"`
	// Server, MCPTool and Pin declare a type: mcp tool (see MCPServer).
	Server  string `yaml:"server"`
	MCPTool string `yaml:"tool"`
	Pin     string `yaml:"pin"`
	// Approval, when set, holds allowed calls for a person's approval.
	Approval *Approval `yaml:"approval"`
	// CallToken or TokenExchange give an http tool's calls their bearer.
	CallToken     *CallToken     `yaml:"call_token"`
	TokenExchange *TokenExchange `yaml:"token_exchange"`
}

// Approval is a tool's human approval: calls for which When (CEL over
// principal, args and tool; empty = every call) holds wait until a person
// holding one of Approvers approves their exact arguments, within TTL.
type Approval struct {
	When      string        `yaml:"when"`
	Approvers []string      `yaml:"approvers"`
	TTL       time.Duration `yaml:"ttl"`
}

// Agent is a named assistant.
type Agent struct {
	Default          bool          `yaml:"default"`
	SystemMessage    string        `yaml:"system_message"`
	Model            string        `yaml:"model"`
	Tools            []string      `yaml:"tools"`
	MaxToolRounds    int           `yaml:"max_tool_rounds"`
	MaxToolCalls     int           `yaml:"max_tool_calls"`
	MaxParallelTools int           `yaml:"max_parallel_tools"`
	ToolTimeout      time.Duration `yaml:"tool_timeout"`
	RunTimeout       time.Duration `yaml:"run_timeout"`
}

// Audit configures the audit log.
type Audit struct {
	DSN           string        `yaml:"dsn"`
	Content       string        `yaml:"content"` // full | hmac | none
	HMACKeyEnv    string        `yaml:"hmac_key_env"`
	HMACKeyFile   string        `yaml:"hmac_key_file"`
	CommitTimeout time.Duration `yaml:"commit_timeout"`
	// ChainID names this process's chain: default "main" for SQLite, a
	// random id per process for PostgreSQL (several replicas, one log).
	ChainID           string `yaml:"chain_id"`
	CheckpointKeyFile string `yaml:"checkpoint_key_file"`
	// CheckpointPublicKeyFile is the only key checkpoints may be signed
	// with, for verifying (PKIX PEM, `gatehouse audit public-key` prints
	// it); it must match the signing key when both are set.
	CheckpointPublicKeyFile string        `yaml:"checkpoint_public_key_file"`
	CheckpointEvery         int           `yaml:"checkpoint_every"`
	CheckpointInterval      time.Duration `yaml:"checkpoint_interval"`
	// NoteKeyFile is the Ed25519 note key signing the Merkle tree's
	// checkpoints (C2SP tlog-checkpoint; made on first start, mode 0600).
	NoteKeyFile string `yaml:"note_key_file"`
	// Witnesses cosign each new checkpoint (C2SP tlog-witness);
	// WitnessQuorum is how many cosignatures make a checkpoint witnessed
	// (default: 1 when there are witnesses).
	Witnesses     []Witness `yaml:"witnesses"`
	WitnessQuorum int       `yaml:"witness_quorum"`
}

// Witness is one witness of the audit log: its base URL (POST
// URL/add-checkpoint) and its note verifier key.
type Witness struct {
	URL string `yaml:"url"`
	Key string `yaml:"key"`
}

// Sessions configures the session store.
type Sessions struct {
	DSN string `yaml:"dsn"`
	// MaxMessages and MaxBytes bound one session's stored history: a chat
	// continuing a session past either is refused (409 session_full), so a
	// caller cannot grow what every later turn loads and sends to the model
	// without end.
	MaxMessages int   `yaml:"max_messages"`
	MaxBytes    int64 `yaml:"max_bytes"`
}

// Demo configures the demo database behind the builtin tools.
type Demo struct {
	DSN string `yaml:"dsn"`
}

// DefaultAgent returns the name of the default agent.
func (c *Config) DefaultAgent() string {
	for name, a := range c.Agents {
		if a.Default {
			return name
		}
	}
	if len(c.Agents) == 1 {
		for name := range c.Agents {
			return name
		}
	}
	return ""
}
