package openaiwire

import (
	"errors"
	"reflect"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

var (
	// requestOptions decode a client's request. Names are matched exactly
	// (json v2's default) and a member named twice is refused (its
	// default), so with unknown members refused a case variant ("MODEL")
	// is refused too: what gatehouse reads is what a lenient reader in
	// front of it would read.
	requestOptions = json.RejectUnknownMembers(true)
	// answerOptions decode a model server's answer: members it adds are
	// ignored; invalid UTF-8 becomes U+FFFD, as encoding/json and the SDK
	// read it.
	answerOptions = jsontext.AllowInvalidUTF8(true)
)

// DecodeChatRequest decodes and checks a chat completion request (the
// body is one JSON value). Any fault is an *Error.
func DecodeChatRequest(body []byte) (*ChatRequest, error) {
	var req ChatRequest
	if err := json.Unmarshal(body, &req, requestOptions); err != nil {
		return nil, requestError(err)
	}
	if err := req.check(); err != nil {
		return nil, err
	}
	return &req, nil
}

// DecodeChatCompletion decodes a model server's whole answer.
func DecodeChatCompletion(body []byte) (*ChatCompletion, error) {
	var c ChatCompletion
	if err := json.Unmarshal(body, &c, answerOptions); err != nil {
		return nil, err
	}
	return &c, nil
}

// DecodeChunk decodes one event of a model server's stream into c, which
// it clears first.
func DecodeChunk(data []byte, c *ChatCompletionChunk) error {
	*c = ChatCompletionChunk{}
	return json.Unmarshal(data, c, answerOptions)
}

// DecodeStreamedChunk decodes one event of a model server's stream into
// c, which it clears first: one pass reads the chunk and whether the event
// is an error in its place. The choices reuse c's (json v2 zeroes each
// element before it is read), so a stream decoded into one c allocates
// them once.
func DecodeStreamedChunk(data []byte, c *StreamedChunk) error {
	choices := c.Choices[:0]
	*c = StreamedChunk{}
	c.Choices = choices
	return json.Unmarshal(data, c, answerOptions)
}

// DecodeErrorBody decodes a stream's error event or an error answer.
func DecodeErrorBody(data []byte) (*ErrorBody, error) {
	var e ErrorBody
	if err := json.Unmarshal(data, &e, answerOptions); err != nil {
		return nil, err
	}
	return &e, nil
}

// Error is a request that does not follow the protocol.
type Error struct {
	// Param is the member at fault, as messages[0].role; only names of
	// the protocol are in it.
	Param string
	// Message says what is wrong.
	Message string
	// Name is the member name the client sent that is at fault (unknown,
	// or given twice), when there is one: the caller's input, to be
	// quoted bounded.
	Name string
}

// Detail is the error's text with Name quoted by quote.
func (e *Error) Detail(quote func(string) string) string {
	d := e.Message
	if e.Name != "" {
		d += ": " + quote(e.Name)
	}
	if e.Param != "" {
		d = e.Param + ": " + d
	}
	return d
}

func (e *Error) Error() string { return e.Detail(strconv.Quote) }

// requestError is a decoding error as an *Error.
func requestError(err error) error {
	var serr *json.SemanticError
	var xerr *jsontext.SyntacticError
	var werr *Error
	switch {
	case errors.As(err, &serr) && serr.Err == json.ErrUnknownName:
		name := serr.JSONPointer.LastToken()
		e := &Error{Param: param(serr.JSONPointer.Parent()), Message: "unknown field", Name: name}
		if strings.ToLower(name) != name {
			e.Message += " (member names are lowercase and case-sensitive)"
		}
		return e
	case errors.As(err, &werr):
		e := *werr
		if serr != nil {
			e.Param = param(serr.JSONPointer)
		}
		return &e
	case serr != nil:
		return &Error{Param: param(serr.JSONPointer), Message: "must be " + kindOf(serr.GoType)}
	case errors.As(err, &xerr) && xerr.Err == jsontext.ErrDuplicateName:
		return &Error{Message: "malformed JSON: a member given twice", Name: xerr.JSONPointer.LastToken()}
	case xerr != nil:
		return &Error{Message: "malformed JSON: " + xerr.Err.Error()}
	}
	return &Error{Message: "malformed JSON"}
}

// kindOf names the JSON a Go type is read from.
func kindOf(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == nil:
		return "of another type"
	case t.Kind() == reflect.Bool:
		return "a boolean"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Float64:
		return "a number"
	case t.Kind() == reflect.Slice:
		return "an array"
	}
	return "an object"
}

// param is p as messages[0].tool_calls[1].function, up to the first token
// that is not a name of the protocol (lowercase letters and _) or an index.
func param(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		switch {
		case tok != "" && strings.Trim(tok, "0123456789") == "":
			b.WriteString("[" + tok + "]")
		case tok != "" && len(tok) <= 32 && strings.Trim(tok, "abcdefghijklmnopqrstuvwxyz_") == "":
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(tok)
		default:
			return b.String()
		}
	}
	return b.String()
}
