package httpapi

import (
	"net/http"
	"strings"

	"github.com/gatehousehq/gatehouse/internal/ids"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/openaiwire"
)

// respStream writes one response as the Responses API's events, numbered
// from 0. Text goes out as it arrives; a function call goes out whole, and
// only when the handler sends it — after the gate allowed the turn and the
// decisions are durable.
type respStream struct {
	sse *sse
	c   *respCall
	seq int64
	// items are the output items done; msg is the message being written.
	items []openaiwire.OutputItem
	msg   *openaiwire.OutputItem
	text  strings.Builder
	// begun is set once response.created went out: a request refused
	// before anything was sent is still an ordinary error response.
	begun bool
}

func newRespStream(w http.ResponseWriter, c *respCall) *respStream {
	return &respStream{sse: newSSE(w), c: c}
}

func (s *respStream) send(ev any, typ string) error {
	s.seq++
	return s.sse.named(typ, ev)
}

func (s *respStream) event(ev openaiwire.ResponseEvent) error {
	ev.SequenceNumber = s.seq
	return s.send(ev, ev.Type)
}

// start sends response.created and response.in_progress, once.
func (s *respStream) start() error {
	if s.begun {
		return nil
	}
	s.begun = true
	resp := s.c.responseObject("in_progress", nil, nil)
	if err := s.event(openaiwire.ResponseEvent{Type: openaiwire.EventResponseCreated, Response: &resp}); err != nil {
		return err
	}
	return s.event(openaiwire.ResponseEvent{Type: openaiwire.EventResponseInProgress, Response: &resp})
}

func ptr[T any](v T) *T { return &v }

// openMessage starts the message item and its text part.
func (s *respStream) openMessage() error {
	if err := s.start(); err != nil {
		return err
	}
	it := openaiwire.MessageItem(ids.New("msg_"), "in_progress")
	s.msg = &it
	idx := len(s.items)
	if err := s.event(openaiwire.ResponseEvent{Type: openaiwire.EventOutputItemAdded, OutputIndex: &idx, Item: &it}); err != nil {
		return err
	}
	part := openaiwire.OutputTextPart("")
	return s.event(openaiwire.ResponseEvent{Type: openaiwire.EventContentPartAdded, ItemID: it.ID, OutputIndex: &idx, ContentIndex: ptr(0), Part: &part})
}

// content sends a piece of the answer's text.
func (s *respStream) content(text string) error {
	if text == "" {
		return nil
	}
	if s.msg == nil {
		if err := s.openMessage(); err != nil {
			return err
		}
	}
	s.text.WriteString(text)
	return s.event(openaiwire.ResponseEvent{Type: openaiwire.EventOutputTextDelta, ItemID: s.msg.ID, OutputIndex: ptr(len(s.items)),
		ContentIndex: ptr(0), Delta: &text, Logprobs: []any{}})
}

// closeMessage ends the message item, if one is open.
func (s *respStream) closeMessage() error {
	if s.msg == nil {
		return nil
	}
	text, id, idx := s.text.String(), s.msg.ID, ptr(len(s.items))
	part := openaiwire.OutputTextPart(text)
	done := openaiwire.MessageItem(id, "completed", text)
	s.items, s.msg = append(s.items, done), nil
	for _, ev := range []openaiwire.ResponseEvent{
		{Type: openaiwire.EventOutputTextDone, ItemID: id, OutputIndex: idx, ContentIndex: ptr(0), Text: &text, Logprobs: []any{}},
		{Type: openaiwire.EventContentPartDone, ItemID: id, OutputIndex: idx, ContentIndex: ptr(0), Part: &part},
		{Type: openaiwire.EventOutputItemDone, OutputIndex: idx, Item: &done},
	} {
		if err := s.event(ev); err != nil {
			return err
		}
	}
	return nil
}

// call sends one released call, whole.
func (s *respStream) call(c llm.ToolCall) error {
	if err := s.start(); err != nil {
		return err
	}
	idx := ptr(len(s.items))
	id := ids.New("fc_")
	added := openaiwire.FunctionCallItem(id, "in_progress", c.ID, c.Name, "")
	done := openaiwire.FunctionCallItem(id, "completed", c.ID, c.Name, c.Arguments)
	s.items = append(s.items, done)
	for _, ev := range []openaiwire.ResponseEvent{
		{Type: openaiwire.EventOutputItemAdded, OutputIndex: idx, Item: &added},
		{Type: openaiwire.EventFunctionArgsDelta, ItemID: id, OutputIndex: idx, Delta: &c.Arguments},
		{Type: openaiwire.EventFunctionArgsDone, ItemID: id, OutputIndex: idx, Arguments: &c.Arguments, Name: c.Name},
		{Type: openaiwire.EventOutputItemDone, OutputIndex: idx, Item: &done},
	} {
		if err := s.event(ev); err != nil {
			return err
		}
	}
	return nil
}

// completedEvent is response.completed with gatehouse's extra object in
// its response.
type completedEvent struct {
	openaiwire.ResponseEvent
	Response responseBody `json:"response"`
}

// completed ends the stream.
func (s *respStream) completed(body responseBody) {
	ev := completedEvent{ResponseEvent: openaiwire.ResponseEvent{Type: openaiwire.EventResponseCompleted, SequenceNumber: s.seq}, Response: body}
	_ = s.send(ev, ev.Type)
}

// fail ends the stream with an error event: the error's members flat (the
// Responses event) and again as "error" (what the SDKs' generic stream
// readers raise from).
func (s *respStream) fail(ae *apiError) {
	eb := openAIErrorBody(ae)
	_ = s.event(openaiwire.ResponseEvent{Type: openaiwire.EventError, Code: ae.Code, Message: eb.Error.Message,
		Param: eb.Error.Param, Error: &eb.Error})
}
