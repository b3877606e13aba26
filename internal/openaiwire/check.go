package openaiwire

import "fmt"

// check applies what the decoder cannot: required members, the roles, and
// what each role may carry. It also refuses what gatehouse does not serve
// (more than one choice, tools other than functions).
func (r *ChatRequest) check() error {
	if r.Model == "" {
		return &Error{Param: "model", Message: "is required"}
	}
	if r.Messages == nil {
		return &Error{Param: "messages", Message: "is required"}
	}
	if len(r.Messages) == 0 {
		return &Error{Param: "messages", Message: "must not be empty"}
	}
	for i := range r.Messages {
		if err := r.Messages[i].check(fmt.Sprintf("messages[%d]", i)); err != nil {
			return err
		}
	}
	for i, t := range r.Tools {
		p := fmt.Sprintf("tools[%d]", i)
		if t.Type != "function" {
			return &Error{Param: p + ".type", Message: "only function tools are served"}
		}
		if t.Function.Name == "" {
			return &Error{Param: p + ".function.name", Message: "is required"}
		}
	}
	if r.N != nil && *r.N > 1 {
		return &Error{Param: "n", Message: "only one choice (n: 1) is served"}
	}
	return nil
}

func (m *Message) check(p string) error {
	switch m.Role {
	case "system", "developer", "user", "assistant", "tool":
	default:
		return &Error{Param: p + ".role", Message: "must be system, developer, user, assistant or tool"}
	}
	if m.Role == "tool" && m.ToolCallID == "" {
		return &Error{Param: p + ".tool_call_id", Message: "a tool message needs it"}
	}
	if len(m.ToolCalls) > 0 && m.Role != "assistant" {
		return &Error{Param: p + ".tool_calls", Message: "only assistant messages carry them"}
	}
	return nil
}
