package jwtauth

import (
	"strings"

	"github.com/gatehousehq/gatehouse/internal/principal"
)

// newPrincipal builds the principal of verified claims.
func (iss *issuer) newPrincipal(claims map[string]any) (*principal.Principal, error) {
	sub, _ := claimAt(claims, iss.cfg.SubjectClaim).(string)
	if sub == "" {
		return nil, invalid("missing subject")
	}
	actors, err := iss.actors(claims, sub)
	if err != nil {
		return nil, err
	}
	return &principal.Principal{
		Actor:   actors,
		Subject: sub,
		Roles:   stringList(claimAt(claims, iss.cfg.RolesClaim), false),
		Scopes:  scopes(claims),
		Claims:  claims,
		Method:  principal.MethodJWT,
		Issuer:  iss.cfg.Issuer,
	}, nil
}

// claimAt finds a claim by name or dotted path. A top-level claim whose
// name is the whole path wins, so namespaced claims such as
// "https://example.com/roles" work as well as "realm_access.roles".
func claimAt(claims map[string]any, path string) any {
	if v, ok := claims[path]; ok {
		return v
	}
	var cur any = claims
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if cur, ok = m[part]; !ok {
			return nil
		}
	}
	return cur
}

// scopes reads OAuth scopes from "scope" (space-separated, RFC 8693/9068)
// or "scp" (an array, or a space-separated string as Entra ID sends it).
func scopes(claims map[string]any) []string {
	if s, ok := claims["scope"]; ok {
		return stringList(s, true)
	}
	return stringList(claims["scp"], true)
}

// stringList reads a claim holding an array of strings or a single string;
// split breaks a single string at spaces. Non-string items are ignored.
func stringList(v any, split bool) []string {
	switch v := v.(type) {
	case string:
		if split {
			return strings.Fields(v)
		}
		if v == "" {
			return nil
		}
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, item := range v {
			if s, ok := item.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
