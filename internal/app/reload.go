package app

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/gatehousehq/gatehouse/internal/config"
)

// restartOnly checks that next leaves alone the settings only read at
// start: the listener (server.addr, server.tls), server.shutdown_timeout,
// and the audit, sessions and demo stores (the session limits do reload).
// A reload that changes one is refused, rather than answered "reloaded"
// while the old value stays in force — an audit.content change that did
// not happen, say, or a client CA still trusted. (server.request_timeout is
// per runtime: each request sets its own deadlines from the config it
// started with.)
func restartOnly(running, next *config.Config) error {
	var keys []string
	// The compared values are comparable structs; a field that is not (a
	// slice, a map) would stop this compiling rather than compare wrongly.
	for key, changed := range map[string]bool{
		"server.addr":              running.Server.Addr != next.Server.Addr,
		"server.metrics_addr":      running.Server.MetricsAddr != next.Server.MetricsAddr,
		"server.tls":               running.Server.TLS != next.Server.TLS,
		"server.shutdown_timeout":  running.Server.ShutdownTimeout != next.Server.ShutdownTimeout,
		"audit":                    !sameAudit(running.Audit, next.Audit),
		"sessions.dsn":             running.Sessions.DSN != next.Sessions.DSN,
		"demo":                     running.Demo != next.Demo,
		"telemetry":                running.Telemetry != next.Telemetry,
		"server.rate_limit.shared": running.Server.RateLimit.Shared != next.Server.RateLimit.Shared,
	} {
		if changed {
			keys = append(keys, key)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	slices.Sort(keys)
	return fmt.Errorf("%s: changed, but read only at start; restart gatehouse to apply (nothing was reloaded)", strings.Join(keys, ", "))
}

// sameAudit compares audit sections: the struct with its one slice
// (witnesses) compared apart.
func sameAudit(a, b config.Audit) bool {
	if !slices.Equal(a.Witnesses, b.Witnesses) {
		return false
	}
	a.Witnesses, b.Witnesses = nil, nil
	return reflect.DeepEqual(a, b)
}
