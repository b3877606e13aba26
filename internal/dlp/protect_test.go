package dlp_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/dlp"
)

// memVault is a vault in memory, for the Protector's own tests; the
// stores' vaults pass storetest.TestVault.
type memVault struct {
	mu sync.Mutex
	m  map[[3]string]dlp.Entry
}

func (v *memVault) PutToken(_ context.Context, e dlp.Entry, max int, now time.Time) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = map[[3]string]dlp.Entry{}
	}
	v.m[[3]string{e.Owner, e.Scope, e.Token}] = e
	return nil
}

func (v *memVault) Token(_ context.Context, owner, scope, token string, now time.Time) ([]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.m[[3]string{owner, scope, token}]
	if !ok || !now.Before(e.Expires) {
		return nil, dlp.ErrUnknownToken
	}
	return e.Sealed, nil
}

func newProtector(t testing.TB) *dlp.Protector {
	t.Helper()
	p, err := dlp.New(dlp.Config{
		Detectors: detectors(t),
		Actions:   map[string]dlp.Action{dlp.Card: dlp.Tokenize, dlp.IBAN: dlp.Tokenize, dlp.Secret: dlp.Block, dlp.Email: dlp.Redact},
		Reveal:    map[string][]string{dlp.Card: {"admin"}},
		Key:       []byte(strings.Repeat("k", 32)),
		Vault:     &memVault{},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const card = "4111 1111 1111 1111"

func TestProtect_TokenizesAndOnlyItsScopeGetsTheValueBack(t *testing.T) {
	ctx := context.Background()
	p := newProtector(t)
	alice := dlp.Scope{Owner: "apikey||alice", ID: "ses_1"}
	out, found, err := p.Protect(ctx, alice, "user message", "my card is "+card+", mail ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "4111") || strings.Contains(out, "ada@example.com") || !strings.Contains(out, "[email redacted]") {
		t.Fatalf("protected = %q", out)
	}
	toks := dlp.TokenTypes(out)
	if len(toks) != 1 || toks[0] != dlp.Card || len(found) != 2 || found[0].Action != dlp.Tokenize || strings.Contains(found[0].Hash, "4111") {
		t.Fatalf("tokens %v, found %+v", toks, found)
	}
	again, _, _ := p.Protect(ctx, alice, "user message", "again: "+card)
	tok := strings.TrimPrefix(again, "again: ")
	if !strings.Contains(out, tok) {
		t.Errorf("the same card in the same session gave %q, first %q", tok, out)
	}
	if got, err := p.Detokenize(ctx, alice, "pay with "+tok); err != nil || got != "pay with "+card {
		t.Errorf("Detokenize = %q, %v", got, err)
	}
	if got := p.Reveal(ctx, alice, []string{"admin"}, tok); got != card {
		t.Errorf("Reveal to admin = %q", got)
	}
	if got := p.Reveal(ctx, alice, []string{"agent"}, tok); got != tok {
		t.Errorf("Reveal to agent = %q", got)
	}
	for name, sc := range map[string]dlp.Scope{
		"another caller":  {Owner: "apikey||mallory", ID: "ses_1"},
		"another session": {Owner: "apikey||alice", ID: "ses_2"},
	} {
		if _, err := p.Detokenize(ctx, sc, tok); !errors.Is(err, dlp.ErrUnknownToken) {
			t.Errorf("%s: Detokenize err = %v, want ErrUnknownToken", name, err)
		}
	}
	for _, invented := range []string{"⟦card:0123456789abcdef⟧", "⟦card:4111⟧", tok[:len(tok)-4] + "0000⟧"} {
		if _, err := p.Detokenize(ctx, alice, invented); !errors.Is(err, dlp.ErrUnknownToken) {
			t.Errorf("an invented token %q: err = %v", invented, err)
		}
	}
}

func TestProtect_BlockRefusesTheWholeText(t *testing.T) {
	p := newProtector(t)
	_, found, err := p.Protect(context.Background(), dlp.Scope{Owner: "o", ID: "s"}, "tool result", "key gh_q2V7kL9xR4mN8pT3wZ6bC1dF5gH0jK2sA7eY9uI4oP1")
	var be *dlp.BlockedError
	if !errors.As(err, &be) || be.Types[0] != dlp.Secret || len(found) != 1 || found[0].Action != dlp.Block {
		t.Fatalf("err %v, found %+v", err, found)
	}
	if strings.Contains(err.Error(), "gh_") {
		t.Errorf("the error quotes the secret: %v", err)
	}
}

func TestStream_CatchesACardSplitAcrossChunks(t *testing.T) {
	ctx := context.Background()
	p := newProtector(t)
	for _, split := range []int{1, 5, 9, 12, 18} {
		var sent strings.Builder
		s := p.NewStream(dlp.Scope{Owner: "o", ID: "s"}, "model output", nil, func(x string) error { sent.WriteString(x); return nil })
		text := strings.Repeat("filler text, ", 30) + "the card " + card + " is active. " + strings.Repeat("more text ", 40)
		i := strings.Index(text, card) + split
		for _, chunk := range []string{text[:i], text[i:]} {
			if err := s.Write(ctx, chunk); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
		got := sent.String()
		if strings.Contains(got, "4111") || len(dlp.TokenTypes(got)) != 1 || len(s.Found) != 1 {
			t.Errorf("split at %d: sent %q, found %+v", split, got, s.Found)
		}
		if want, _, _ := p.Protect(ctx, dlp.Scope{Owner: "o", ID: "s"}, "", text); got != want {
			t.Errorf("split at %d: streamed text differs from the whole text protected", split)
		}
	}
}

func TestScrub_RedactsEveryValueNotAllowed(t *testing.T) {
	p := newProtector(t)
	got := p.Scrub("card " + card + " iban GB82WEST12345698765432 phone +44 20 7946 0958")
	if strings.Contains(got, "4111") || strings.Contains(got, "GB82") || !strings.Contains(got, "+44 20 7946 0958") {
		t.Errorf("Scrub = %q", got)
	}
}

func TestCustom_IsTestedAtLoad(t *testing.T) {
	if _, err := dlp.Custom("policy_no", `POL-[0-9]{3,12}`, "", []string{"POL-500"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		pattern, check string
		ex             []string
	}{
		{`POL-[0-9`, "", nil}, {`x*`, "", nil}, {`POL-\d+`, "crc", nil}, {`POL-\d+`, "", []string{"POL-"}},
		{`\d{16}`, "luhn", []string{"4111111111111112"}},
	} {
		if _, err := dlp.Custom("x", bad.pattern, bad.check, bad.ex); err == nil {
			t.Errorf("Custom(%q, %q, %q) = nil error", bad.pattern, bad.check, bad.ex)
		}
	}
}

func TestStream_SendsPlainTextAsItComesAndCatchesValuesInSmallChunks(t *testing.T) {
	ctx := context.Background()
	p := newProtector(t)
	sc := dlp.Scope{Owner: "o", ID: "s"}
	var sends []string
	s := p.NewStream(sc, "model output", nil, func(x string) error { sends = append(sends, x); return nil })
	for i := range 10 {
		if err := s.Write(ctx, "piece"+string(rune('0'+i))+" "); err != nil {
			t.Fatal(err)
		}
		if len(sends) != i+1 {
			t.Fatalf("after chunk %d: %d sends %q; plain words are not held", i, len(sends), sends)
		}
	}
	text := "Your card " + card + " and IBAN DE89 3704 0044 0532 0130 00, call +44 20 7946 0958 today."
	want, _, _ := p.Protect(ctx, sc, "", text)
	for size := 1; size <= 7; size++ {
		var sent strings.Builder
		s := p.NewStream(sc, "model output", nil, func(x string) error { sent.WriteString(x); return nil })
		for i := 0; i < len(text); i += size {
			if err := s.Write(ctx, text[i:min(i+size, len(text))]); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if sent.String() != want {
			t.Errorf("chunks of %d bytes: sent %q, want %q", size, sent.String(), want)
		}
	}
}
