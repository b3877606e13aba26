// Package mcptest serves MCP servers to tests over streamable HTTP, the
// way a slow or distant server behaves.
package mcptest

import (
	"net/http"
	"net/http/httptest"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// T is what Slow needs of a *testing.T.
type T interface {
	Helper()
	Cleanup(func())
}

// Slow serves srv over streamable HTTP but answers nothing until release
// is called (or the request ends): a first connection attempt lasts as
// long as the test wants. The server stops when the test ends.
func Slow(t T, srv *mcp.Server) (url string, release func()) {
	t.Helper()
	gate := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	t.Cleanup(release) // runs first: hs.Close waits for the handlers
	return hs.URL, release
}
