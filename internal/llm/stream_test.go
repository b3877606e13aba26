package llm_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/llm"
)

// The offline model streams the answer Complete gives: the content in
// pieces of whole characters, then each tool call.
func TestOffline_StreamsWhatItWouldAnswer(t *testing.T) {
	for _, text := range []string{"hello", "CLM-1001 and C-100", "héllo wörld ✓ " + strings.Repeat("ü", 40)} {
		t.Run(text, func(t *testing.T) {
			req := userTurn(text, demoTools)
			want, err := llm.Offline{}.Complete(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			var deltas []llm.Delta
			got, err := llm.Offline{}.Stream(context.Background(), req, func(d llm.Delta) error {
				deltas = append(deltas, d)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("streamed response (-complete +stream):\n%s", diff)
			}
			var content strings.Builder
			var calls []llm.ToolCall
			for _, d := range deltas {
				if !utf8.ValidString(d.Content) {
					t.Errorf("delta %q cuts a character", d.Content)
				}
				content.WriteString(d.Content)
				for _, tc := range d.ToolCalls {
					calls = append(calls, llm.ToolCall{ID: tc.ID, Name: tc.Name, Arguments: tc.Arguments})
				}
			}
			if content.String() != want.Message.Content {
				t.Errorf("deltas carry %q; want %q", content.String(), want.Message.Content)
			}
			if diff := cmp.Diff(want.Message.ToolCalls, calls); diff != "" {
				t.Errorf("tool calls from the deltas (-want +got):\n%s", diff)
			}
			if want.Message.Content != "" && len(deltas) < 2 {
				t.Errorf("%d deltas for a %d-byte answer; want it in pieces", len(deltas), len(want.Message.Content))
			}
		})
	}
}

func TestOffline_StreamStopsWhenOnDeltaFails(t *testing.T) {
	errStop := errors.New("stop")
	n := 0
	_, err := llm.Offline{}.Stream(context.Background(), userTurn("hi", nil), func(llm.Delta) error {
		n++
		return errStop
	})
	if !errors.Is(err, errStop) || n != 1 {
		t.Errorf("err = %v after %d deltas; want errStop after 1", err, n)
	}
}

// completeOnly is a model that cannot stream.
type completeOnly struct{ resp *llm.Response }

func (m completeOnly) Complete(context.Context, llm.Request) (*llm.Response, error) {
	return m.resp, nil
}
func (completeOnly) Name() string { return "complete only" }

func TestStream_AModelThatDoesNotStreamSendsOneDelta(t *testing.T) {
	resp := &llm.Response{Message: llm.Message{Role: "assistant", Content: "whole",
		ToolCalls: []llm.ToolCall{{ID: "c1", Name: "t", Arguments: "{}"}}}}
	var deltas []llm.Delta
	got, err := llm.Stream(context.Background(), completeOnly{resp}, llm.Request{}, func(d llm.Delta) error {
		deltas = append(deltas, d)
		return nil
	})
	if err != nil || got != resp {
		t.Fatalf("Stream = %v, %v", got, err)
	}
	want := []llm.Delta{{Content: "whole", ToolCalls: []llm.ToolCallDelta{{Index: 0, ID: "c1", Name: "t", Arguments: "{}"}}}}
	if diff := cmp.Diff(want, deltas); diff != "" {
		t.Errorf("deltas (-want +got):\n%s", diff)
	}
}
