package gate

// Door is a way a tool call arrives. Every door is declared here, in
// Doors, and nowhere else: the gate refuses a call from a door it does not
// know, and the door-conformance test (cmd/gatehouse) fails for a door in
// Doors that its table does not drive. A new way in starts by adding
// itself below.
type Door struct{ name string }

// The doors.
var (
	// DoorAgent: a tool call an agent's model proposes during a run
	// (/chat, /v1/chat, /v1/chat/completions and /v1/responses with an
	// agent's name, /mcp ask_<agent>), run here.
	DoorAgent = Door{"agent"}
	// DoorPassthrough: a call a pass-through model proposes, released to
	// the client that runs it (Chat Completions).
	DoorPassthrough = Door{"passthrough"}
	// DoorResponses: a call a pass-through model proposes on the Responses
	// API (/v1/responses), released to the client that runs it.
	DoorResponses = Door{"responses"}
	// DoorMCPCall: /mcp tools/call, run here.
	DoorMCPCall = Door{"mcp.tools_call"}
	// DoorMCPAsk: /mcp ask_<agent>, whose tool calls are an agent run's.
	DoorMCPAsk = Door{"mcp.ask"}
	// DoorExplain: POST /admin/authz/explain, and gatehouse policy test and
	// policy diff (internal/policytest): they decide, and run nothing.
	DoorExplain = Door{"explain"}
)

// Doors lists every door, in the order the conformance table reports them.
var Doors = []Door{DoorAgent, DoorPassthrough, DoorResponses, DoorMCPCall, DoorMCPAsk, DoorExplain}

// Name is the door's name, as tests and traces name it.
func (d Door) Name() string { return d.name }

// DoorNamed is the registered door of that name (a door as stored with a
// paused run); ok is false for any other name.
func DoorNamed(name string) (d Door, ok bool) {
	for _, k := range Doors {
		if k.name == name {
			return k, true
		}
	}
	return Door{}, false
}

func (d Door) registered() bool {
	for _, k := range Doors {
		if k == d {
			return true
		}
	}
	return false
}
