package dlp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Action is what is done with a finding of one type.
type Action string

// The actions.
const (
	// Tokenize replaces the value with a token naming its type; the vault
	// keeps the value for the tool the model passes the token to.
	Tokenize Action = "tokenize"
	// Redact replaces the value for good.
	Redact Action = "redact"
	// Block refuses the whole text (a message, a tool result).
	Block Action = "block"
	// Allow lets the value pass; the finding is still recorded.
	Allow Action = "allow"
)

// Valid reports whether a is one of the four actions.
func (a Action) Valid() bool { return slices.Contains([]Action{Tokenize, Redact, Block, Allow}, a) }

// Scope is whom a token belongs to: the caller (principal.Key) and the
// session, or the run when there is no session. A token is made into its
// value only for the scope it was made in.
type Scope struct{ Owner, ID string }

// Found is one finding as recorded: never the value, only its type, where
// it was, what was done, and a keyed hash (to match equal values across
// records without revealing them).
type Found struct {
	Type, Where string
	Action      Action
	Hash        string
}

// Config makes a Protector.
type Config struct {
	Detectors []Detector
	// Actions by finding type; a type without one is allowed.
	Actions map[string]Action
	// Reveal lists by type the roles that see a tokenized value in answers.
	Reveal map[string][]string
	// Key (32 bytes) seals the vault and keys tokens and finding hashes.
	Key   []byte
	Vault Vault
	// TTL is how long a token lives after it was last made (default 24h);
	// MaxTokens bounds the tokens of one scope (default 1000).
	TTL       time.Duration
	MaxTokens int
	Now       func() time.Time
}

// Protector acts on findings. It is safe for concurrent use.
type Protector struct {
	cfg                     Config
	sealKey, tokKey, hshKey []byte
	// stored remembers tokens already in the vault with their expiry, so
	// a value seen again costs no write; reset when it grows past its bound.
	mu     sync.Mutex
	stored map[string]time.Time
}

// ErrBlocked is returned for a text holding a finding whose action is
// block (see *BlockedError).
var ErrBlocked = errors.New("blocked by data protection")

// BlockedError says which types blocked a text, never the values.
type BlockedError struct{ Types []string }

func (e *BlockedError) Error() string {
	return fmt.Sprintf("%s: it holds %s, which data_protection blocks", ErrBlocked, strings.Join(e.Types, ", "))
}

// Is makes errors.Is(err, ErrBlocked) hold.
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

// New checks cfg and returns its Protector.
func New(cfg Config) (*Protector, error) {
	if len(cfg.Key) != 32 {
		return nil, fmt.Errorf("data protection key must be 32 bytes, got %d", len(cfg.Key))
	}
	for typ, a := range cfg.Actions {
		if !a.Valid() {
			return nil, fmt.Errorf("data protection action of %s: %q is not tokenize, redact, block or allow", typ, a)
		}
		if a == Tokenize && cfg.Vault == nil {
			return nil, fmt.Errorf("data protection action of %s is tokenize, but there is no vault", typ)
		}
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 24 * time.Hour
	}
	if cfg.MaxTokens <= 0 {
		cfg.MaxTokens = 1000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Protector{cfg: cfg, sealKey: derive(cfg.Key, "vault seal"), tokKey: derive(cfg.Key, "token"),
		hshKey: derive(cfg.Key, "finding hash"), stored: map[string]time.Time{}}, nil
}

func derive(key []byte, purpose string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("gatehouse dlp " + purpose))
	return m.Sum(nil)
}

// action is what is done with findings of typ.
func (p *Protector) action(typ string) Action {
	if a, ok := p.cfg.Actions[typ]; ok {
		return a
	}
	return Allow
}

// hash is a finding's keyed hash.
func (p *Protector) hash(typ, value string) string {
	m := hmac.New(sha256.New, p.hshKey)
	m.Write([]byte(typ + "\x00" + value))
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil))[:32]
}

// Protect acts on what the detectors find in text, found at where (for
// the record), for scope sc: values to tokenize become tokens (stored in
// the vault), values to redact become a mark naming their type. A finding
// whose action is block refuses the whole text with a *BlockedError; the
// findings are returned with it, to be recorded. Tokens already in text
// are left as they are.
func (p *Protector) Protect(ctx context.Context, sc Scope, where, text string) (string, []Found, error) {
	spans := p.spans(text)
	if len(spans) == 0 {
		return text, nil, nil
	}
	found := make([]Found, len(spans))
	var blocked []string
	for i, s := range spans {
		a := p.action(s.Type)
		found[i] = Found{Type: s.Type, Where: where, Action: a, Hash: p.hash(s.Type, text[s.Start:s.End])}
		if a == Block && !slices.Contains(blocked, s.Type) {
			blocked = append(blocked, s.Type)
		}
	}
	if blocked != nil {
		return "", found, &BlockedError{Types: blocked}
	}
	var b strings.Builder
	last := 0
	for _, s := range spans {
		value := text[s.Start:s.End]
		b.WriteString(text[last:s.Start])
		last = s.End
		switch p.action(s.Type) {
		case Tokenize:
			tok, err := p.tokenize(ctx, sc, s.Type, value)
			if err != nil {
				return "", found, err
			}
			b.WriteString(tok)
		case Redact:
			b.WriteString(redacted(s.Type))
		default:
			b.WriteString(value)
		}
	}
	b.WriteString(text[last:])
	return b.String(), found, nil
}

// spans are the detectors' findings in text outside the tokens it holds.
func (p *Protector) spans(text string) []Span {
	spans := Scan(p.cfg.Detectors, text)
	if len(spans) == 0 || !strings.Contains(text, tokenOpen) {
		return spans
	}
	toks := tokenPattern.FindAllStringIndex(text, -1)
	return slices.DeleteFunc(spans, func(s Span) bool {
		return slices.ContainsFunc(toks, func(t []int) bool { return s.Start < t[1] && t[0] < s.End })
	})
}

func redacted(typ string) string { return "[" + typ + " redacted]" }

// Scrub redacts from text every value whose type is not allowed, with no
// vault and no record: for the server log and the audit log's clear
// fields, which must never hold a value whatever came before them.
func (p *Protector) Scrub(text string) string {
	if p == nil || text == "" {
		return text
	}
	spans := p.spans(text)
	var b strings.Builder
	last := 0
	for _, s := range spans {
		if p.action(s.Type) == Allow {
			continue
		}
		b.WriteString(text[last:s.Start])
		b.WriteString(redacted(s.Type))
		last = s.End
	}
	if last == 0 {
		return text
	}
	b.WriteString(text[last:])
	return b.String()
}
