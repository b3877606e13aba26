package config

import (
	"bytes"
	"path/filepath"
	"text/template"
)

// The files of a dev data dir: serve --dev writes them, the dev config
// names them, and `gatehouse audit --data-dir` finds them by these names.
const (
	DevConfigFile        = "gatehouse.yaml"
	DevCredentialsFile   = "dev-credentials.env"
	DevJWKSFile          = "dev-jwks.json"
	DevCallTokenKeyFile  = "call-token-key.pem"
	DevAuditDB           = "audit.db"
	DevAuditHMACKeyFile  = "audit-hmac.key"
	DevCheckpointKeyFile = "audit-checkpoint.key"
	DevNoteKeyFile       = "audit-note.key"
	DevSessionsDB        = "sessions.db"
	DevDemoDB            = "demo.db"
	DevVaultKeyFile      = "vault.key"
)

// DevUser is a demo user of dev mode.
type DevUser struct {
	Name   string // subject and role
	Hash   string // sha256 hex of the generated key
	Claims map[string]string
}

// DevUsers are the demo users dev mode creates, in order.
func DevUsers() []DevUser {
	return []DevUser{
		{Name: "viewer"},
		{Name: "agent"},
		{Name: "admin"},
		{Name: "customer", Claims: map[string]string{"customer_id": "C-100"}},
		{Name: "supervisor"},
	}
}

// DevYAML renders the documented config that `serve --dev` writes into its
// data dir and then loads like any other config file.
func DevYAML(dataDir string, users []DevUser) ([]byte, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	err = devTemplate.Execute(&b, map[string]any{"Dir": filepath.ToSlash(abs), "Users": users,
		"JWKS": DevJWKSFile, "AuditDB": DevAuditDB, "HMACKey": DevAuditHMACKeyFile, "CheckpointKey": DevCheckpointKeyFile, "NoteKey": DevNoteKeyFile,
		"CallTokenKey": DevCallTokenKeyFile,
		"SessionsDB":   DevSessionsDB, "DemoDB": DevDemoDB, "VaultKey": DevVaultKeyFile})
	return b.Bytes(), err
}

var devTemplate = template.Must(template.New("dev").Parse(`# gatehouse.yaml — written by 'gatehouse serve --dev'. A documented starting point:
# copy it, edit it, and run 'gatehouse config check FILE' then 'gatehouse serve --config FILE'.
# ${VAR} is replaced by the environment variable VAR. Unknown keys are an error.

server:
  addr: "127.0.0.1:8080"
  metrics_addr: ""             # host:port serves GET /metrics there, no auth (an internal port); empty: on addr, permission metrics
  max_body_bytes: 1048576      # larger request bodies get 413
  request_timeout: 120s        # a run still going after this gets 504
  rate_limit: {requests_per_minute: 600, burst: 60}   # per subject; 429 with Retry-After beyond
  tls: {cert_file: "", key_file: "", client_ca_file: ""}   # client_ca_file turns on mTLS

model:
  provider: offline            # openai | offline ('serve --dev' uses openai when OPENAI_API_KEY is set)
  base_url: ""                 # empty = OpenAI; any OpenAI-compatible server (vLLM, Ollama, Azure ...)
  model: gpt-4o-mini
  api_key_env: OPENAI_API_KEY  # the name of the variable holding the key, never the key
  timeout: 60s
  max_retries: 2               # retries on 429 and 5xx

auth:
  invalid_token_status: 403    # 403 (the tutorial's) or 401 (RFC 6750)
  api_keys:                    # only SHA-256 digests; 'gatehouse keys new' makes one
{{- range .Users}}
    - subject: {{.Name}}
      sha256: "{{.Hash}}"
      roles: [{{.Name}}]
{{- if .Claims}}
      claims: { {{- range $k, $v := .Claims}}{{$k}}: "{{$v}}"{{end -}} }
{{- end}}
{{- end}}
  jwt:
    issuers:                   # the dev issuer: 'gatehouse token' mints tokens it accepts
      - issuer: gatehouse-dev
        audiences: [gatehouse]
        jwks_file: "{{.Dir}}/{{.JWKS}}"   # or jwks_url; both empty = OIDC discovery from issuer
        algorithms: [ES256]
        roles_claim: roles     # dotted path: realm_access.roles, groups, ...
        leeway: 30s
        # delegation: {max_chain: 2, actors: {support-bot: {roles: [agent], subjects: []}}}   # tokens with an RFC 8693 act claim
  call_tokens:                 # the JWT each call_token tool's call carries; keys published at /.well-known/jwks.json
    key_file: "{{.Dir}}/{{.CallTokenKey}}"   # PKCS #8 PEM, P-256 (ES256) or Ed25519 (EdDSA), made on first start; later keys: previous, still published
    ttl: 60s
  mtls:
    identities: []             # e.g. {match: "spiffe://corp/ns/ops/sa/bot", roles: [agent]}

authz:
  roles:                       # role -> permissions; everything else is denied
    viewer: [read]
    agent: [read, respond, claims.read, cards.read, llm.use, email.send]
    admin: [read, respond, admin, audit.read, metrics, claims.read, cards.read, payments.read, policy.write, llm.use, email.send]
    customer: [respond, claims.read, cards.read, payments.read, llm.use]   # may use gpt-4o-mini, not its send_email (removed for this role)
    supervisor: [read]         # approves policy_update calls (GET /v1/approvals, POST /v1/approvals/{id})
  scopes: {}                   # OAuth scope -> permissions

tools:
  claims_status:   {type: builtin, permission: claims.read}
  payments_lookup: {type: builtin, permission: payments.read,
                    condition: 'args.customer_id == principal.claims.customer_id || "admin" in principal.roles'}
  # needs a card number: the model sees only a token (data_protection below),
  # the tool receives the number
  card_status:     {type: builtin, permission: cards.read}
  policy_update:   {type: builtin, permission: policy.write,
                    # a person holding an approver role (not the requester) must approve
                    # these exact arguments first; when: CEL like condition (default: always)
                    approval: {approvers: [supervisor], ttl: 30m}}
  # a client-side agent's tool: offered and authorized here, run by the client
  # (governed pass-through on /v1/chat/completions, model gpt-4o-mini below)
  send_email:      {type: client, permission: email.send,
                    condition: 'args.to.endsWith("@bank.example")',
                    description: "Send an e-mail to a colleague at the bank",
                    parameters: {type: object, required: [to, subject, body],
                                 properties: {to: {type: string}, subject: {type: string}, body: {type: string}}}}
  # a tool of an MCP server (the demo knowledge base below): only public
  # documents; path_within resolves .., . and // before comparing
  kb_read:         {type: mcp, server: demo_kb, tool: kb_read, permission: claims.read,
                    condition: 'path_within(args.path, "/kb/public")'}
  # an operator's own tool:
  # crm_lookup: {type: http, method: GET, url: "https://crm.internal/customers/{customer_id}",
  #              headers: {Authorization: "Bearer ${CRM_TOKEN}"}, permission: crm.read,
  #              description: "Look up a CRM customer",
  #              parameters: {type: object, properties: {customer_id: {type: string}}, required: [customer_id]}}

agents:
  support_agent:
    default: true
    system_message: "You are a concise support assistant for authenticated users."
    tools: [claims_status, payments_lookup, card_status, policy_update, kb_read]
    max_tool_rounds: 8

mcp_servers:                    # MCP servers whose tools are declared above (type: mcp)
  # a stdio server gatehouse starts, restarts and stops: here its own demo
  # knowledge base (GATEHOUSE_SELF is this gatehouse program). Streamable
  # HTTP servers: {url: "https://.../mcp", headers: {Authorization: "Bearer ${DOCS_TOKEN}"}}
  demo_kb: {command: ["${GATEHOUSE_SELF}", "mcp", "demo-server"]}
  # docs: {command: ["npx", "-y", "@modelcontextprotocol/server-filesystem", "/srv/docs"]}

passthrough:                    # client-side agents through /v1/chat/completions
  models:
    gpt-4o-mini: {permission: llm.use}   # the upstream model (the offline demo model without OPENAI_API_KEY)
  undeclared_tools: refuse      # a tool not declared with type: client: 400 (or drop)
  max_retries: 2                # the model is asked again after a refused call, then the client gets a refusal

console:                        # the web console at /console/ (API keys and pasted tokens always work)
  oidc: {issuer: "", client_id: ""}   # "sign in with <issuer>": OIDC code + PKCE, public client; the issuer must be in auth.jwt.issuers

audit:
  dsn: "sqlite://{{.Dir}}/{{.AuditDB}}"   # or postgres://...
  content: hmac                       # full | hmac | none
  hmac_key_env: GATEHOUSE_AUDIT_HMAC_KEY      # the key, when set; else hmac_key_file
  hmac_key_file: "{{.Dir}}/{{.HMACKey}}"   # made on first start (mode 0600)
  checkpoint_key_file: "{{.Dir}}/{{.CheckpointKey}}"
  note_key_file: "{{.Dir}}/{{.NoteKey}}"   # signs the Merkle tree's checkpoints (GET /audit/checkpoint); made on first start
  # witnesses: [{url: "https://witness.example/", key: "witness.example+1234abcd+BASE64"}]   # cosign each checkpoint
  # witness_quorum: 1

data_protection:                # what the model, the client and the logs never see
  key_env: GATEHOUSE_VAULT_KEY  # the token vault's key, when set; else key_file
  key_file: "{{.Dir}}/{{.VaultKey}}"   # made on first start (mode 0600)
  actions: {card: tokenize, iban: tokenize, secret: block, email: allow, phone: allow}   # tokenize | redact | block | allow
  reveal: {card: [admin]}       # roles that see a tokenized value in answers
  detectors: {}                 # your own: {policy_no: {pattern: 'POL-[0-9]{3,12}', check: "", action: allow, examples: [POL-500]}}
  ttl: 24h                      # a token lives this long after it was last made
  max_tokens: 1000              # per session (or run)
  # CEL conditions and approval when see findings: e.g. condition: '!findings.exists(f, f.type == "card")'

sessions:
  dsn: "sqlite://{{.Dir}}/{{.SessionsDB}}"
  max_messages: 500             # a session's history; continuing a fuller one gets 409 session_full
  max_bytes: 8388608            # the same in bytes

demo:
  dsn: "sqlite://{{.Dir}}/{{.DemoDB}}"    # the demo insurance data behind the builtin tools

telemetry:
  otlp_endpoint: ""             # an OTLP/HTTP collector (http://127.0.0.1:4318) turns tracing on; so do the OTEL_* variables
`))
