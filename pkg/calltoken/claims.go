package calltoken

import (
	"encoding/json"
	"fmt"
	"time"
)

// maxActDepth bounds the act chain read from a token.
const maxActDepth = 16

func parseClaims(payload []byte) (*Claims, error) {
	var raw struct {
		Iss        string          `json:"iss"`
		Sub        string          `json:"sub"`
		Aud        json.RawMessage `json:"aud"`
		Iat        *float64        `json:"iat"`
		Exp        *float64        `json:"exp"`
		Jti        string          `json:"jti"`
		RunID      string          `json:"run_id"`
		Tool       string          `json:"tool"`
		ArgsSHA256 string          `json:"args_sha256"`
		Act        *actClaim       `json:"act"`
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return nil, fmt.Errorf("%w: malformed claims", ErrInvalid)
	}
	if raw.Exp == nil || raw.Iat == nil || raw.Sub == "" || raw.Jti == "" || raw.Tool == "" || len(raw.ArgsSHA256) != 64 {
		return nil, fmt.Errorf("%w: not a call token (exp, iat, sub, jti, tool and args_sha256 are required)", ErrInvalid)
	}
	c := &Claims{Issuer: raw.Iss, Subject: raw.Sub, ID: raw.Jti, RunID: raw.RunID, Tool: raw.Tool, ArgsSHA256: raw.ArgsSHA256,
		IssuedAt: time.Unix(int64(*raw.Iat), 0), Expiry: time.Unix(int64(*raw.Exp), 0)}
	var one string
	if err := json.Unmarshal(raw.Aud, &one); err == nil {
		c.Audience = []string{one}
	} else if err := json.Unmarshal(raw.Aud, &c.Audience); err != nil {
		return nil, fmt.Errorf("%w: malformed aud", ErrInvalid)
	}
	for a := raw.Act; a != nil; a = a.Act {
		if len(c.Actors) == maxActDepth {
			return nil, fmt.Errorf("%w: act chain too deep", ErrInvalid)
		}
		c.Actors = append(c.Actors, Actor{Subject: a.Sub, ClientID: a.ClientID})
	}
	return c, nil
}

type actClaim struct {
	Sub      string    `json:"sub"`
	ClientID string    `json:"client_id"`
	Act      *actClaim `json:"act"`
}
