package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/gate"
)

// doorCell is one row of the conformance table: a call every door is
// given, and what every door must make of it.
type doorCell struct {
	name string
	// tool is the base name of the tool called (see doorWorld), args the
	// arguments as the model or client sends them.
	tool, args string
	verdict    string // allow | deny | approval
	// rule is a stable part of the verdict's rule, the tool's name written
	// <tool>; beyond it, every door's rule must be the same.
	rule string
	// events are the cell's tool.decided (with its decision), tool.finished
	// and approval.requested events, in order, at every door but explain.
	events []string
	// notAt names the doors where the cell cannot exist, and why.
	notAt map[string]string
}

var (
	decidedAllow = "tool.decided allow"
	decidedDeny  = "tool.decided deny"
)

// doorCells is the table. The caller is user agent (role agent: pay.send,
// not vault.open) throughout.
//
// "Denied by permission" is, at every door but explain, a tool that is not
// offered: a tool is shown exactly when the caller holds its permission
// (authz.Visible), so the model asks for it anyway. "Not offered" is then
// the other way a name is not in the offer: no such tool is configured.
//
// "Disabled" is an MCP tool whose pin does not match what its server
// presents (tools.DisabledReason through the real MCP client), not a
// stand-in: it exists at every door that runs server tools. A client tool
// runs on the client and nothing disables it, so the pass-through has no
// such cell.
var doorCells = []doorCell{
	{name: "allowed", tool: "send", args: `{"to":"ann@bank.example","amount":5}`, verdict: "allow",
		rule: `role:agent grants pay.send; condition of <tool>: args.to.endsWith("@bank.example")`, events: []string{decidedAllow, audit.TypeToolFinished}},
	{name: "denied by permission", tool: "vault", args: `{"box":"B-1"}`, verdict: "deny",
		rule: "tool not offered", events: []string{decidedDeny}},
	{name: "denied by condition", tool: "send", args: `{"to":"eve@evil.example","amount":5}`, verdict: "deny",
		rule: `condition of <tool>: args.to.endsWith("@bank.example")`, events: []string{decidedDeny}},
	{name: "needs approval", tool: "send", args: `{"to":"ann@bank.example","amount":5000}`, verdict: "approval",
		rule: "; approval of <tool> when args.amount > 1000.0", events: []string{audit.TypeApprovalRequested}},
	{name: "disabled", tool: "pinned", args: `{"text":"hi"}`, verdict: "deny",
		rule: "tool disabled", events: []string{decidedDeny},
		notAt: map[string]string{gate.DoorPassthrough.Name(): "client tools cannot be disabled", gate.DoorResponses.Name(): "client tools cannot be disabled"}},
	{name: "not offered", tool: "no_such_tool", args: `{}`, verdict: "deny",
		rule: "tool not offered", events: []string{decidedDeny}},
	{name: "invalid arguments", tool: "send", args: `{"to":"ann@bank.example","amount":5,"memo":"x"}`, verdict: "deny",
		rule: "argument schema of <tool>", events: []string{decidedDeny}},
}

// observed is what one door made of one cell.
type observed struct {
	Verdict string   // as the door answered
	Rule    string   // of the verdict's event (explain: of its answer), tool name as <tool>
	Events  []string // as doorCell.events
	Ran     bool     // the tool's side effect happened
}

// A call is decided alike whatever door it came through: the same
// verdict, the same rule, the same audit events, and a call that is not
// allowed — held ones included — never runs.
func TestDoors_EveryDoorDecidesEveryCellAlike(t *testing.T) {
	w := startDoorWorld(t)
	for _, c := range doorCells {
		t.Run(c.name, func(t *testing.T) {
			got := map[string]observed{}
			for _, d := range gate.Doors {
				if _, ok := c.notAt[d.Name()]; ok {
					continue
				}
				drive := doorDrivers[d.Name()]
				if drive == nil {
					t.Fatalf("door %s has no driver", d.Name())
				}
				got[d.Name()] = w.observe(t, d, drive, c)
			}
			checkCell(t, c, got)
		})
	}
}

func checkCell(t *testing.T, c doorCell, got map[string]observed) {
	t.Helper()
	var ref observed // the first door's, in registry order
	for _, d := range gate.Doors {
		if o, ok := got[d.Name()]; ok {
			ref = o
			break
		}
	}
	for door, o := range got {
		want := observed{Verdict: c.verdict, Rule: ref.Rule, Events: c.events, Ran: c.verdict == "allow"}
		if door == gate.DoorExplain.Name() {
			want.Events, want.Ran = nil, false // it decides; it records and runs nothing
		}
		if diff := cmp.Diff(want, o); diff != "" {
			t.Errorf("%s (-want, the first door's rule; +got):\n%s", door, diff)
		}
		if !strings.Contains(o.Rule, c.rule) {
			t.Errorf("%s: rule %q does not contain %q", door, o.Rule, c.rule)
		}
	}
}

// observe drives one cell through one door and reads what it recorded.
func (w *doorWorld) observe(t *testing.T, d gate.Door, drive doorDriver, c doorCell) observed {
	t.Helper()
	before, effects := len(w.audit.all()), w.sideEffects.Load()
	name := doorTool(d, c.tool)
	ans := drive(t, w, name, c.args)
	o := observed{Verdict: ans.verdict, Rule: ans.rule, Ran: ans.released || w.sideEffects.Load() != effects}
	for _, e := range w.audit.all()[before:] {
		switch e.Type {
		case audit.TypeToolDecided:
			o.Events = append(o.Events, e.Type+" "+e.Decision)
		case audit.TypeToolFinished, audit.TypeApprovalRequested:
			o.Events = append(o.Events, e.Type)
		default:
			continue
		}
		if o.Rule == "" && e.Type != audit.TypeToolFinished {
			o.Rule = e.Rule
		}
	}
	o.Rule = strings.ReplaceAll(o.Rule, name, "<tool>")
	return o
}

// doorTool is the name a door calls for base: the server tool, or the
// client tool at the pass-through; a name no tool has stays as it is.
func doorTool(d gate.Door, base string) string {
	switch {
	case base == "no_such_tool":
		return base
	case d == gate.DoorPassthrough, d == gate.DoorResponses:
		return base + "_c"
	}
	return base + "_s"
}

// Every door in the gate's registry has a driver here, and every driver a
// door: a new way in fails this test until the table drives it.
func TestDoors_EveryRegisteredDoorIsDriven(t *testing.T) {
	known := map[string]bool{}
	for _, d := range gate.Doors {
		known[d.Name()] = true
		if doorDrivers[d.Name()] == nil {
			t.Errorf("door %s (gate.Doors) has no driver in doorDrivers: add one, and it joins the conformance table", d.Name())
		}
	}
	for name := range doorDrivers {
		if !known[name] {
			t.Errorf("doorDrivers drives %s, which is not in gate.Doors", name)
		}
	}
}

// No package runs a tool but the gate's executor: a door that called a
// tool's implementation itself would skip the verdict and tool.finished.
func TestDoors_OnlyTheExecutorCallsATool(t *testing.T) {
	const call, allowed = ".Impl.Call(", "internal/gate/exec.go"
	var found []string
	for _, root := range []string{"internal", "gatehouse"} {
		err := filepath.WalkDir(filepath.Join("..", "..", root), func(path string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			b, err := os.ReadFile(path)
			if err == nil && strings.Contains(string(b), call) {
				found = append(found, filepath.ToSlash(strings.TrimPrefix(path, filepath.Join("..", "..")+string(filepath.Separator))))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The executor's own call is found too, so the scan cannot go stale
	// unnoticed.
	if diff := cmp.Diff([]string{allowed}, found); diff != "" {
		t.Errorf("files calling %s (-want +got):\n%s", call, diff)
	}
}
