package dlp

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Tokens look like ⟦card:7f3a9c2e1b4d5f60⟧: the type, then 64 bits of an
// HMAC of the scope, type and value — the same value gives the same token
// within a scope, so the model can tell values apart and refer back.
const (
	tokenOpen  = "⟦"
	tokenClose = "⟧"
)

var (
	tokenPattern = regexp.MustCompile(`⟦([a-z][a-z0-9_-]{0,63}):([0-9a-f]{16})⟧`)
	// anyToken is anything shaped like a token: a model that invents one
	// may not get its shape right either.
	anyToken = regexp.MustCompile(`⟦[^⟦⟧]{0,100}⟧`)
)

// Errors of detokenization.
var (
	// ErrUnknownToken: a token not made for this caller and scope (another
	// caller's, another session's, expired, or made up by the model).
	ErrUnknownToken = errors.New("unknown token")
	// ErrVaultFull: the scope holds data_protection.max_tokens tokens.
	ErrVaultFull = errors.New("token vault full for this session")
)

// Entry is one token in the vault: its value sealed with AES-GCM under
// the vault key, bound to owner, scope and token.
type Entry struct {
	Owner, Scope, Token string
	Sealed              []byte
	Expires             time.Time
}

// Vault keeps tokens' sealed values (the session store).
type Vault interface {
	// PutToken stores e, or renews the expiry of the same token in the
	// same scope. It refuses with ErrVaultFull when the scope holds max
	// live tokens and e is not among them.
	PutToken(ctx context.Context, e Entry, max int, now time.Time) error
	// Token returns the sealed value of a live token of owner in scope, or
	// ErrUnknownToken.
	Token(ctx context.Context, owner, scope, token string, now time.Time) ([]byte, error)
}

// tokenize returns the token of value in scope sc, storing it.
func (p *Protector) tokenize(ctx context.Context, sc Scope, typ, value string) (string, error) {
	m := hmac.New(sha256.New, p.tokKey)
	m.Write([]byte(sc.Owner + "\x00" + sc.ID + "\x00" + typ + "\x00" + value))
	tok := tokenOpen + typ + ":" + hex.EncodeToString(m.Sum(nil))[:16] + tokenClose
	now := p.cfg.Now()
	key := sc.Owner + "\x00" + sc.ID + "\x00" + tok
	p.mu.Lock()
	exp, ok := p.stored[key]
	p.mu.Unlock()
	if ok && now.Add(p.cfg.TTL/2).Before(exp) {
		return tok, nil // stored recently: its expiry has half its TTL left
	}
	sealed, err := p.seal(sc, tok, value)
	if err != nil {
		return "", err
	}
	e := Entry{Owner: sc.Owner, Scope: sc.ID, Token: tok, Sealed: sealed, Expires: now.Add(p.cfg.TTL)}
	if err := p.cfg.Vault.PutToken(ctx, e, p.cfg.MaxTokens, now); err != nil {
		return "", fmt.Errorf("store token: %w", err)
	}
	p.mu.Lock()
	if len(p.stored) >= 10_000 {
		clear(p.stored)
	}
	p.stored[key] = e.Expires
	p.mu.Unlock()
	return tok, nil
}

func (p *Protector) aead() (cipher.AEAD, error) {
	block, err := aes.NewCipher(p.sealKey)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal encrypts value with a random nonce; the scope and token are its
// additional data, so a row moved to another scope does not open.
func (p *Protector) seal(sc Scope, tok, value string) ([]byte, error) {
	g, err := p.aead()
	if err != nil {
		return nil, fmt.Errorf("seal token: %w", err)
	}
	nonce := make([]byte, g.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal token: %w", err)
	}
	return g.Seal(nonce, nonce, []byte(value), aad(sc, tok)), nil
}

func (p *Protector) open(sc Scope, tok string, sealed []byte) (string, error) {
	g, err := p.aead()
	if err != nil {
		return "", err
	}
	if len(sealed) < g.NonceSize() {
		return "", ErrUnknownToken
	}
	v, err := g.Open(nil, sealed[:g.NonceSize()], sealed[g.NonceSize():], aad(sc, tok))
	if err != nil {
		return "", fmt.Errorf("%w: its sealed value does not open", ErrUnknownToken)
	}
	return string(v), nil
}

func aad(sc Scope, tok string) []byte { return []byte(sc.Owner + "\x00" + sc.ID + "\x00" + tok) }

// value is the value behind tok in scope sc.
func (p *Protector) value(ctx context.Context, sc Scope, tok string) (string, error) {
	sealed, err := p.cfg.Vault.Token(ctx, sc.Owner, sc.ID, tok, p.cfg.Now())
	if err != nil {
		return "", err
	}
	return p.open(sc, tok, sealed)
}

// Detokenize replaces every token in text with its value. A token not
// made for sc — another caller's, another session's, expired or invented —
// refuses the whole text with an error wrapping ErrUnknownToken.
func (p *Protector) Detokenize(ctx context.Context, sc Scope, text string) (string, error) {
	for _, t := range anyToken.FindAllString(text, -1) {
		if !tokenPattern.MatchString(t) {
			return "", fmt.Errorf("%w: malformed", ErrUnknownToken)
		}
	}
	return p.replaceTokens(ctx, sc, text, func(string) bool { return true }, true)
}

// Reveal replaces the tokens in text whose type roles may see
// (data_protection.reveal) with their values; the others, and tokens it
// cannot open, stay as they are.
func (p *Protector) Reveal(ctx context.Context, sc Scope, roles []string, text string) string {
	may := func(typ string) bool {
		for _, r := range p.cfg.Reveal[typ] {
			for _, have := range roles {
				if r == have {
					return true
				}
			}
		}
		return false
	}
	out, _ := p.replaceTokens(ctx, sc, text, may, false)
	return out
}

func (p *Protector) replaceTokens(ctx context.Context, sc Scope, text string, want func(typ string) bool, strict bool) (string, error) {
	if !strings.Contains(text, tokenOpen) {
		return text, nil
	}
	var firstErr error
	out := tokenPattern.ReplaceAllStringFunc(text, func(tok string) string {
		typ := tokenPattern.FindStringSubmatch(tok)[1]
		if firstErr != nil || !want(typ) {
			return tok
		}
		v, err := p.value(ctx, sc, tok)
		if err != nil {
			if strict {
				firstErr = err
			}
			return tok
		}
		return v
	})
	if firstErr != nil {
		return "", firstErr
	}
	return out, nil
}

// TokenTypes are the types of the tokens in text.
func TokenTypes(text string) []string {
	var out []string
	for _, m := range tokenPattern.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}
