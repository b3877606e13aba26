package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehousehq/gatehouse/internal/tools/schema"
)

// An MCP tool's arguments get the same control-character rule as every
// other tool, and a server cannot opt its own schema out of it: only
// gatehouse's configuration may relax gatehouse's rules.
func TestTool_RefusesControlCharactersEvenWhenTheServerOptsOut(t *testing.T) {
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	var called atomic.Bool
	s.AddTool(&mcp.Tool{Name: "mail", InputSchema: json.RawMessage(`{"type":"object","properties":{
		"to":{"type":"string"},"raw":{"type":"string","x-gatehouse-allow-control":true}}}`)},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			called.Store(true)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "sent"}}}, nil
		})
	hs := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	t.Cleanup(hs.Close)
	src, _ := started(t, Config{Name: "remote", URL: hs.URL, RefreshInterval: time.Minute, CallTimeout: 2 * time.Second},
		Decl{Name: "remote_mail", Remote: "mail"})
	mail := NewTool(src, "remote_mail", "mail")
	waitFor(t, "the first listing", func() bool { return mail.Disabled() == "" })

	for _, tt := range []struct{ args, field string }{
		{`{"to":"boss@evil.example\u0000@bank.example"}`, "to"},
		{`{"raw":"a\u0000b"}`, "raw"},
	} {
		_, err := call(t, mail, tt.args)
		var ae *schema.ArgError
		if !errors.As(err, &ae) || ae.Field != tt.field {
			t.Errorf("call %s = %v, want an argument error on %s", tt.args, err, tt.field)
		}
	}
	if _, err := call(t, mail, `{"to":"bob@bank.example","raw":"line\nnext"}`); err != nil {
		t.Errorf("plain call: %v", err)
	}
	if !called.Load() {
		t.Error("the plain call never reached the server")
	}
}
