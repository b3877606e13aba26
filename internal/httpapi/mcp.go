package httpapi

import (
	"context"
	"net/http"
	"sort"

	"github.com/gatehousehq/gatehouse/internal/chat"
	"github.com/gatehousehq/gatehouse/internal/gate"
	mcpserver "github.com/gatehousehq/gatehouse/internal/mcp/server"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// mcpPermission is what /mcp requires; it is also what ask_<agent> needs
// (the permission of /v1/chat). Each tool call is authorized on its own.
const mcpPermission = "respond"

// handleMCP is /mcp: gatehouse as an MCP server. It keeps its sessions
// across reloads; each request judges calls by the config it started with.
func (s *Server) handleMCP() http.Handler {
	return mcpserver.New(mcpserver.Config{Audit: s.Audit, Log: s.log, Caller: s.mcpCaller})
}

func (s *Server) mcpCaller(r *http.Request) *mcpserver.Caller {
	p := principal.From(r.Context())
	if p == nil {
		return nil
	}
	rt, svc, info := s.runtime(r), s.chat(r), infoFrom(r.Context())
	agents := make([]string, 0, len(rt.Agents))
	for name := range rt.Agents {
		agents = append(agents, name)
	}
	sort.Strings(agents)
	return &mcpserver.Caller{
		Principal: p, RequestID: info.requestID, Perms: rt.Perms, Tools: rt.ServedTools, Order: rt.ToolOrder,
		Agents: agents, AskPermission: mcpPermission,
		Ask: func(ctx context.Context, agent, message string) (mcpserver.Answer, error) {
			res, err := svc.Run(ctx, chat.Request{Principal: p, Agent: agent, Message: message, Stateless: true,
				RequestID: info.requestID, Door: gate.DoorMCPAsk})
			if err != nil {
				return mcpserver.Answer{}, err
			}
			return mcpserver.Answer{Response: res.Response, RunID: res.RunID, Approvals: res.Approvals}, nil
		},
		Gate: rt.Gate, Exec: rt.Exec, Approvals: s.ApprovalStore, Door: s.door(rt),
	}
}
