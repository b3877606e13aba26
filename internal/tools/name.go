package tools

import (
	"encoding/json"
	"regexp"
)

// NameRule says in words what ValidName accepts, for error messages.
const NameRule = "1-64 letters, digits, _ or -, starting with a letter"

// namePattern is the one tool-name rule: config validation, HTTP tools and
// tools a Go program registers all check it, so a name accepted at
// registration is never refused at start.
var namePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

// ValidName reports whether name may name a tool.
func ValidName(name string) bool { return namePattern.MatchString(name) }

// EmptySchema is the parameters schema of a tool that takes no arguments.
// It returns a new value each time, so no caller can change another's.
func EmptySchema() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{}}`)
}
