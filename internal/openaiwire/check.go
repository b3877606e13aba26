package openaiwire

import "strconv"

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
		if err := r.Messages[i].check(); err != nil {
			err.Param = index("messages", i) + err.Param
			return err
		}
	}
	for i, t := range r.Tools {
		if t.Type != "function" {
			return &Error{Param: index("tools", i) + ".type", Message: "only function tools are served"}
		}
		if t.Function.Name == "" {
			return &Error{Param: index("tools", i) + ".function.name", Message: "is required"}
		}
	}
	if r.N != nil && *r.N > 1 {
		return &Error{Param: "n", Message: "only one choice (n: 1) is served"}
	}
	return nil
}

// index names element i of list as a param ("messages[2]"): made only for
// an error, never for a request that passes.
func index(list string, i int) string { return list + "[" + strconv.Itoa(i) + "]" }

// check returns an Error whose Param is relative to the message (".role"):
// the caller prefixes where the message is.
func (m *Message) check() *Error {
	switch m.Role {
	case "system", "developer", "user", "assistant", "tool":
	default:
		return &Error{Param: ".role", Message: "must be system, developer, user, assistant or tool"}
	}
	if m.Role == "tool" && m.ToolCallID == "" {
		return &Error{Param: ".tool_call_id", Message: "a tool message needs it"}
	}
	if len(m.ToolCalls) > 0 && m.Role != "assistant" {
		return &Error{Param: ".tool_calls", Message: "only assistant messages carry them"}
	}
	return nil
}
