package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// RequirePostgres returns GATEHOUSE_TEST_POSTGRES, or skips the test when
// it is not set.
func RequirePostgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv("GATEHOUSE_TEST_POSTGRES")
	if base == "" {
		t.Skip("GATEHOUSE_TEST_POSTGRES not set: PostgreSQL tests skipped")
	}
	return base
}

// PostgresDSN returns a DSN for a fresh schema of the server named by
// GATEHOUSE_TEST_POSTGRES (its search_path), dropped when the test ends. It
// skips the test when the variable is not set and fails it when the server
// cannot be reached.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := RequirePostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to GATEHOUSE_TEST_POSTGRES: %v", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
		conn.Close(ctx)
	})
	return withParam(t, base, "search_path", schema)
}

// withParam adds a connection parameter to a URL or keyword/value DSN.
func withParam(t testing.TB, dsn, key, value string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " " + key + "=" + value
}

// Proxy forwards loopback TCP to a database server so a test can take the
// server away: Cut makes it unreachable (connections dropped, nobody
// listening); Freeze makes it stop answering (connections stay open,
// nothing gets through).
type Proxy struct {
	ln     net.Listener
	frozen atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

// StartProxy starts a proxy to the host of dsn, which must be a URL, and
// returns dsn rewritten to go through it. The proxy is cut when the test
// ends.
func StartProxy(t testing.TB, dsn string) (viaProxy string, p *Proxy) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Fatalf("a proxied DSN must be a URL with a host, got %q", dsn)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p = &Proxy{ln: ln}
	go p.serve(u.Host)
	t.Cleanup(func() { p.Cut() })
	u.Host = ln.Addr().String()
	return u.String(), p
}

func (p *Proxy) serve(target string) {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns = append(p.conns, c)
		p.mu.Unlock()
		if p.frozen.Load() {
			continue
		}
		u, err := net.DialTimeout("tcp", target, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, u)
		p.mu.Unlock()
		go p.pipe(u, c)
		go p.pipe(c, u)
	}
}

// pipe copies src to dst, dropping what arrives while the proxy is frozen.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Freeze makes the server stop answering: what is sent either way is
// dropped, and new connections are accepted but never forwarded.
func (p *Proxy) Freeze() error {
	p.frozen.Store(true)
	return nil
}

// Cut makes the server unreachable: every connection is dropped and the
// proxy stops listening.
func (p *Proxy) Cut() error {
	err := p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
