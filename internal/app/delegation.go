package app

import (
	"errors"
	"fmt"
	"os"

	"github.com/gatehousehq/gatehouse/internal/authn/jwtauth"
	"github.com/gatehousehq/gatehouse/internal/callcred"
	"github.com/gatehousehq/gatehouse/internal/config"
	"github.com/gatehousehq/gatehouse/internal/tools/httptool"
)

// delegation is an issuer's delegation config as the verifier takes it.
func delegation(d *config.Delegation) *jwtauth.Delegation {
	if d == nil {
		return nil
	}
	out := &jwtauth.Delegation{MaxChain: d.MaxChain, RequireAct: d.RequireAct, SubjectGrants: d.Grants == "subject",
		Actors: map[string]jwtauth.ActorPolicy{}}
	for name, a := range d.Actors {
		out.Actors[name] = jwtauth.ActorPolicy{Roles: a.Roles, Subjects: a.Subjects}
	}
	return out
}

// callCreds are the credentials of one runtime's tool calls.
type callCreds struct {
	signer *callcred.Signer // nil without auth.call_tokens.key_file
	jwks   []byte           // the signer's public keys, for /.well-known/jwks.json
}

// buildCallCreds loads the call-token keys when a key file is configured,
// making the file with one new key on first start (not when only checking).
func buildCallCreds(cfg *config.Config, w wiring) (*callCreds, error) {
	ct := cfg.Auth.CallTokens
	if ct.KeyFile == "" {
		return &callCreds{}, nil
	}
	if _, err := os.Stat(ct.KeyFile); errors.Is(err, os.ErrNotExist) {
		if w.checkOnly {
			return &callCreds{}, nil
		}
		if err := callcred.Rotate(ct.KeyFile); err != nil {
			return nil, fmt.Errorf("auth.call_tokens.key_file: %w", err)
		}
		w.log.Info("made a call token signing key", "file", ct.KeyFile)
	}
	keys, err := callcred.LoadKeys(ct.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("auth.call_tokens.key_file: %w", err)
	}
	if ct.Algorithm != "" && keys[0].Algorithm() != ct.Algorithm {
		return nil, fmt.Errorf("auth.call_tokens.algorithm: %s, but the key signs %s", ct.Algorithm, keys[0].Algorithm())
	}
	s, err := callcred.NewSigner(callcred.SignerConfig{Issuer: publicBase(cfg), Keys: keys, TTL: ct.TTL})
	if err != nil {
		return nil, fmt.Errorf("auth.call_tokens: %w", err)
	}
	jwks, err := s.JWKS()
	if err != nil {
		return nil, fmt.Errorf("auth.call_tokens: %w", err)
	}
	return &callCreds{signer: s, jwks: jwks}, nil
}

// forTool is the credential of http tool name's calls (nil: none).
func (c *callCreds) forTool(name string, tc config.Tool, w wiring) (httptool.Credential, error) {
	return c.credential(name, tc.CallToken, tc.TokenExchange, tc.CallTokenAudience(), w)
}

// forMCP is the credential of the tools/call requests of MCP tool name,
// served by server (nil: none).
func (c *callCreds) forMCP(name string, server config.MCPServer, w wiring) (callcred.Credential, error) {
	return c.credential(name, server.CallToken, server.TokenExchange, server.CallTokenAudience(), w)
}

// credential is a call token for aud, or a token exchange, or nil.
func (c *callCreds) credential(name string, tok *config.CallToken, x *config.TokenExchange, aud string, w wiring) (callcred.Credential, error) {
	switch {
	case tok != nil:
		if c.signer == nil {
			return nil, errors.New("call_token needs auth.call_tokens.key_file")
		}
		return callcred.CallToken{Signer: c.signer, Audience: aud}, nil
	case x != nil:
		secret := w.getenv(x.ClientSecretEnv)
		if secret == "" && !w.checkOnly {
			return nil, fmt.Errorf("token_exchange: the variable %s is empty", x.ClientSecretEnv)
		}
		return callcred.NewExchanger(callcred.ExchangeConfig{Tool: name, TokenURL: x.TokenURL, ClientID: x.ClientID,
			ClientSecret: secret, Audience: x.Audience, Scope: x.Scope, Log: w.log}), nil
	}
	return nil, nil
}
