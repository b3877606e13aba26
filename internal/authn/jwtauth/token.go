package jwtauth

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/internal/authn"
)

const maxKidLen = 256

// refusedHeaders are header parameters this verifier does not honour. They
// either point at keys chosen by the token's author (jku, x5u, jwk, x5c),
// demand processing it does not do (crit, b64, zip), or belong to JWE (enc).
// A token carrying one is refused rather than half-understood.
var refusedHeaders = []string{"crit", "jku", "x5u", "jwk", "x5c", "b64", "zip", "enc"}

// invalid wraps authn.ErrInvalidCredentials with a reason that never
// contains token content.
func invalid(reason string) error {
	return fmt.Errorf("%w: %s", authn.ErrInvalidCredentials, reason)
}

// looksLikeJWT reports whether token is ours to judge: a compact JWS starts
// with the base64url of `{"`. Anything else goes to the next authenticator;
// a mangled JWT (one segment, five segments) is still ours, and refused.
func looksLikeJWT(token string) bool {
	return strings.HasPrefix(token, "eyJ")
}

// header is the part of a JOSE header this verifier reads.
type header struct {
	alg string
	kid string
	typ string
}

// parsed is a compact JWS split and decoded, not yet verified.
type parsed struct {
	header  header
	payload []byte
	claims  map[string]any
}

func parse(token string) (*parsed, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, invalid("not a compact JWS")
	}
	if parts[2] == "" {
		return nil, invalid("unsigned token")
	}
	hdrJSON, err := base64.RawURLEncoding.Strict().DecodeString(parts[0])
	if err != nil {
		return nil, invalid("malformed header")
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(hdrJSON, &members); err != nil {
		return nil, invalid("malformed header")
	}
	for _, name := range refusedHeaders {
		if _, ok := members[name]; ok {
			return nil, invalid("refused header parameter " + name)
		}
	}
	var h struct {
		Alg string  `json:"alg"`
		Kid *string `json:"kid"`
		Typ string  `json:"typ"`
	}
	if err := json.Unmarshal(hdrJSON, &h); err != nil {
		return nil, invalid("malformed header")
	}
	p := &parsed{header: header{alg: h.Alg, typ: h.Typ}}
	if h.Kid != nil {
		if !validKid(*h.Kid) {
			return nil, invalid("malformed kid")
		}
		p.header.kid = *h.Kid
	}
	if _, ok := algorithms[h.Alg]; !ok {
		return nil, invalid("algorithm not allowed")
	}
	p.payload, err = base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err != nil {
		return nil, invalid("malformed payload")
	}
	if err := json.Unmarshal(p.payload, &p.claims); err != nil || p.claims == nil {
		return nil, invalid("malformed claims")
	}
	return p, nil
}

// validKid accepts printable ASCII of a sane length; anything else cannot
// name a key we hold and must not trigger a refetch.
func validKid(kid string) bool {
	if kid == "" || len(kid) > maxKidLen {
		return false
	}
	for i := 0; i < len(kid); i++ {
		if kid[i] < 0x20 || kid[i] > 0x7e {
			return false
		}
	}
	return true
}

// checkClaims applies the issuer's claim rules before any key is looked up,
// so stale or misdirected tokens cost no signature check and no fetch.
func (iss *issuer) checkClaims(p *parsed, now time.Time) (exp time.Time, err error) {
	cfg := &iss.cfg
	if !iss.algs[p.header.alg] {
		return exp, invalid("algorithm not allowed for issuer")
	}
	if cfg.RequiredTyp != "" && !typMatches(p.header.typ, cfg.RequiredTyp) {
		return exp, invalid("wrong token type")
	}
	exp, ok, err := numericDate(p.claims, "exp")
	if err != nil || !ok {
		return exp, invalid("missing or malformed exp")
	}
	if !now.Before(exp.Add(cfg.Leeway)) {
		return exp, invalid("token expired")
	}
	if nbf, ok, err := numericDate(p.claims, "nbf"); err != nil {
		return exp, invalid("malformed nbf")
	} else if ok && now.Add(cfg.Leeway).Before(nbf) {
		return exp, invalid("token not yet valid")
	}
	if iat, ok, err := numericDate(p.claims, "iat"); err != nil {
		return exp, invalid("malformed iat")
	} else if ok && now.Add(cfg.Leeway).Before(iat) {
		return exp, invalid("token issued in the future")
	}
	if !audienceMatches(p.claims["aud"], cfg.Audiences) {
		return exp, invalid("wrong audience")
	}
	return exp, nil
}

func typMatches(got, want string) bool {
	norm := func(s string) string {
		s = strings.ToLower(s)
		return strings.TrimPrefix(s, "application/")
	}
	return got != "" && norm(got) == norm(want)
}

// numericDate reads a NumericDate claim (RFC 7519 2): seconds since the
// epoch, possibly fractional.
func numericDate(claims map[string]any, name string) (t time.Time, present bool, err error) {
	v, ok := claims[name]
	if !ok {
		return t, false, nil
	}
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return t, true, fmt.Errorf("claim %s is not a NumericDate", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

func audienceMatches(aud any, accepted []string) bool {
	switch v := aud.(type) {
	case string:
		return slices.Contains(accepted, v)
	case []any:
		for _, a := range v {
			if s, ok := a.(string); ok && slices.Contains(accepted, s) {
				return true
			}
		}
	}
	return false
}
