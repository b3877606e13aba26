package openai

import (
	"cmp"
	"slices"
	"strings"

	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/openaiwire"
)

// A streamed answer is assembled here from the plain chunks of package
// openaiwire, as the SDK's ChatCompletionAccumulator assembled it from its
// own chunk type (decoded twice, JSON then metadata per field), with the
// same rules for a chunk that does not fit, but of the first choice only:
// the only one a turn reads. BenchmarkStream/chunk: 51 allocations and
// 6.7 kB a content chunk the SDK's way, 2 and 86 B this way.

// Bounds on the indices a chunk may carry, the SDK accumulator's: at most
// 128 choices, and a tool-call index that grows the calls so far by at most
// maxToolCallGrowth (sparse indices are allowed, a huge one is not).
const (
	maxChoiceIndex    = 127
	maxToolCallGrowth = 128
)

// assembly is the first choice of a streamed completion so far.
type assembly struct {
	id      string // the first chunk's (the first not empty); every later one must match
	model   string // the last chunk's
	content strings.Builder
	finish  string // the last finish_reason of the first choice, "" for null
	// calls are the tool calls that have had a fragment, by index. An index
	// may skip some (as the SDK, which filled the gap with calls of no type,
	// later dropped): only what arrived is held, so a server sending sparse
	// indices makes gatehouse hold no more than the stream's bytes.
	calls  []callParts
	ncalls int // the highest index so far + 1: the SDK's count of calls
	usage  llm.Usage
}

// callParts is one tool call of the first choice as its fragments arrive.
type callParts struct {
	index     int
	id, typ   string
	name, arg []byte
}

// add appends chunk c to the assembly and returns its part of the first
// choice. ok is false for a chunk that does not fit the ones before: another
// completion's id, a choice index past 127, or a tool-call index below -1 or
// past the growth bound (-1 is taken as 0: some servers number a lone call
// so). The SDK refused the same chunks.
func (a *assembly) add(c *openaiwire.ChatCompletionChunk) (d llm.Delta, ok bool) {
	if a.id != "" && c.ID != a.id {
		return d, false
	}
	if a.id == "" {
		a.id = c.ID
	}
	// The chunk's entries may each grow the calls by one, and all of them
	// together by maxToolCallGrowth-1 more.
	growth := maxToolCallGrowth - 1
	for i := range c.Choices {
		growth += len(c.Choices[i].Delta.ToolCalls)
	}
	for i := range c.Choices {
		ch := &c.Choices[i]
		if ch.Index < 0 || ch.Index > maxChoiceIndex {
			return d, false
		}
		if ch.Index != 0 {
			// Not kept: only its indices are checked.
			for _, tc := range ch.Delta.ToolCalls {
				if _, ok := callIndex(tc.Index); !ok {
					return d, false
				}
			}
			continue
		}
		a.finish = ""
		if ch.FinishReason != nil {
			a.finish = *ch.FinishReason
		}
		if text := ch.Delta.Text(); text != "" {
			a.content.WriteString(text)
			d.Content += text
		}
		for _, tc := range ch.Delta.ToolCalls {
			j, ok := callIndex(tc.Index)
			if !ok {
				return d, false
			}
			if j >= a.ncalls {
				grow := j + 1 - a.ncalls
				if grow > maxToolCallGrowth || grow > growth {
					return d, false
				}
				growth -= grow
				a.ncalls = j + 1
			}
			call := a.call(j)
			if tc.ID != "" {
				call.id = tc.ID
			}
			if tc.Type != "" {
				call.typ = tc.Type
			}
			call.name = append(call.name, tc.Function.Name...)
			call.arg = append(call.arg, tc.Function.Arguments...)
			d.ToolCalls = append(d.ToolCalls, llm.ToolCallDelta{Index: j, ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
		}
	}
	if u := c.Usage; u != nil {
		a.usage.PromptTokens += u.PromptTokens
		a.usage.CompletionTokens += u.CompletionTokens
		a.usage.TotalTokens += u.TotalTokens
	}
	a.model = c.Model
	return d, true
}

// call is the call with index j, added (in index order) if it is new.
func (a *assembly) call(j int) *callParts {
	if n := len(a.calls); n > 0 && a.calls[n-1].index == j {
		return &a.calls[n-1] // the call being streamed
	}
	i, found := slices.BinarySearchFunc(a.calls, j, func(c callParts, j int) int { return cmp.Compare(c.index, j) })
	if !found {
		a.calls = slices.Insert(a.calls, i, callParts{index: j})
	}
	return &a.calls[i]
}

// callIndex is a tool-call fragment's index: 0 when absent or -1.
func callIndex(i *int) (int, bool) {
	switch {
	case i == nil || *i == -1:
		return 0, true
	case *i < 0:
		return 0, false
	}
	return *i, true
}

// response is the assembled turn; only function calls are kept.
func (a *assembly) response() *llm.Response {
	out := &llm.Response{Model: a.model, Message: llm.Message{Role: "assistant", Content: a.content.String()},
		FinishReason: a.finish, Usage: a.usage}
	for i := range a.calls {
		if c := &a.calls[i]; c.typ == "function" {
			out.Message.ToolCalls = append(out.Message.ToolCalls, llm.ToolCall{ID: c.id, Name: string(c.name), Arguments: string(c.arg)})
		}
	}
	return out
}
