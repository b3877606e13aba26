package app

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/gatehousehq/gatehouse/internal/config"
)

// restartOnly checks that next leaves alone the settings only read at
// start: the listener (server.addr, server.tls), the HTTP server's timeouts
// (server.request_timeout sets its write timeout, server.shutdown_timeout),
// and the audit, sessions and demo stores. A reload that changes one is
// refused, rather than answered "reloaded" while the old value stays in
// force — an audit.content change that did not happen, say, or a client CA
// still trusted.
func restartOnly(running, next *config.Config) error {
	var keys []string
	for _, s := range []struct {
		key  string
		a, b any
	}{
		{"server.addr", running.Server.Addr, next.Server.Addr},
		{"server.tls", running.Server.TLS, next.Server.TLS},
		{"server.request_timeout", running.Server.RequestTimeout, next.Server.RequestTimeout},
		{"server.shutdown_timeout", running.Server.ShutdownTimeout, next.Server.ShutdownTimeout},
		{"audit", running.Audit, next.Audit},
		{"sessions", running.Sessions, next.Sessions},
		{"demo", running.Demo, next.Demo},
	} {
		if !reflect.DeepEqual(s.a, s.b) {
			keys = append(keys, s.key)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	return fmt.Errorf("%s: changed, but read only at start; restart gatehouse to apply (nothing was reloaded)", strings.Join(keys, ", "))
}
