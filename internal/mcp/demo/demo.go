// Package demo is the small MCP server built into gatehouse (`gatehouse mcp
// demo-server`, stdio): a knowledge base with public and internal
// documents, so the quickstart shows an MCP tool under a path_within
// condition without any network.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Docs are the knowledge base's documents by path.
var Docs = map[string]string{
	"/kb/public/claims.md":        "Filing a claim: give the policy id, the date and a short description. Most claims are decided within 10 working days.",
	"/kb/public/payments.md":      "Premiums are collected monthly by direct debit; a missed payment is retried after 5 days.",
	"/kb/internal/fraud-rules.md": "INTERNAL: claims over 10,000 from policies younger than 30 days go to the fraud desk.",
}

// NewServer returns the demo server: kb_list(dir) and kb_read(path).
func NewServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "gatehouse-demo-kb", Version: "1"}, nil)
	s.AddTool(&mcp.Tool{Name: "kb_read", Description: "Read one document of the knowledge base by its path, such as /kb/public/claims.md.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"path":{"type":"string","description":"the document's path"}},"required":["path"],"additionalProperties":false}`)},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			var args struct{ Path string }
			if err := json.Unmarshal(req.Params.Arguments, &args); err != nil {
				return errResult("invalid arguments"), nil
			}
			doc, ok := Docs[path.Clean(args.Path)]
			if !ok {
				return errResult(fmt.Sprintf("no document at %s", path.Clean(args.Path))), nil
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: doc}}}, nil
		})
	s.AddTool(&mcp.Tool{Name: "kb_list", Description: "List the documents under a folder of the knowledge base, such as /kb/public.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"dir":{"type":"string"}},"required":["dir"],"additionalProperties":false}`)},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			var args struct{ Dir string }
			if err := json.Unmarshal(req.Params.Arguments, &args); err != nil {
				return errResult("invalid arguments"), nil
			}
			dir := strings.TrimSuffix(path.Clean(args.Dir), "/") + "/"
			var out []string
			for p := range Docs {
				if strings.HasPrefix(p, dir) {
					out = append(out, p)
				}
			}
			sort.Strings(out)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: strings.Join(out, "\n")}}}, nil
		})
	return s
}

func errResult(msg string) *mcp.CallToolResult {
	r := &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: msg}}}
	r.IsError = true
	return r
}
