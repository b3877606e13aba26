package app

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gatehousehq/gatehouse/internal/authz/condition"
	"github.com/gatehousehq/gatehouse/internal/config"
	"github.com/gatehousehq/gatehouse/internal/httpapi"
)

// PolicyWarnings are what in a config that loads is likely a mistake: a
// condition that reads nothing of the call (so it allows or denies every
// call alike), a tool no role or scope can reach, a permission no tool,
// route or pass-through model uses. config check prints them and serve
// logs them at start; they never refuse a config.
func PolicyWarnings(cfg *config.Config) []string {
	granted := map[string]bool{}
	for _, perms := range cfg.Authz.Roles {
		for _, p := range perms {
			granted[p] = true
		}
	}
	for _, perms := range cfg.Authz.Scopes {
		for _, p := range perms {
			granted[p] = true
		}
	}
	used := map[string]bool{}
	for _, p := range httpapi.RoutePermissions {
		used[p] = true
	}
	for _, m := range cfg.Passthrough.Models {
		used[m.Permission] = true
	}
	var out []string
	for _, name := range slices.Sorted(maps.Keys(cfg.Tools)) {
		tc := cfg.Tools[name]
		used[tc.Permission] = true
		if !granted[tc.Permission] {
			out = append(out, fmt.Sprintf("tools.%s: no role or scope grants its permission %s: no caller can reach it", name, tc.Permission))
		}
		out = append(out, constantWarning("tools."+name+".condition", tc.Condition)...)
		if tc.Approval != nil {
			out = append(out, constantWarning("tools."+name+".approval.when", tc.Approval.When)...)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(granted)) {
		if !used[p] {
			out = append(out, fmt.Sprintf("permission %s: granted, but no tool, route or pass-through model requires it", p))
		}
	}
	return out
}

// constantWarning warns of a condition at key that reads nothing of the
// call. One that does not compile is left to the config's errors.
func constantWarning(key, expr string) []string {
	if strings.TrimSpace(expr) == "" {
		return nil
	}
	c, err := condition.Compile(expr)
	if err != nil || !c.Constant() {
		return nil
	}
	return []string{fmt.Sprintf("%s: %q reads nothing of the call (principal, args, tool, now): it decides every call alike", key, expr)}
}
