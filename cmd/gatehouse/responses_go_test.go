package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/openai/openai-go/v3/responses"
)

var emailResponsesTool = responses.ToolParamOfFunction("send_email", map[string]any{"type": "object", "required": []string{"to", "subject", "body"},
	"properties": map[string]any{"to": map[string]any{"type": "string"}, "subject": map[string]any{"type": "string"}, "body": map[string]any{"type": "string"}}}, false)

func textInput(s string) responses.ResponseNewParamsInputUnion {
	return responses.ResponseNewParamsInputUnion{OfString: param.NewOpt(s)}
}

func callOutput(callID, output string) responses.ResponseNewParamsInputUnion {
	return responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{{OfFunctionCallOutput: &responses.ResponseInputItemFunctionCallOutputParam{
		CallID: param.NewOpt(callID), Output: responses.ResponseInputItemFunctionCallOutputOutputUnionParam{OfString: param.NewOpt(output)}}}}}
}

func functionCalls(r *responses.Response) []responses.ResponseOutputItemUnion {
	var out []responses.ResponseOutputItemUnion
	for _, it := range r.Output {
		if it.Type == "function_call" {
			out = append(out, it)
		}
	}
	return out
}

// wantAPIError checks that err is the SDK's API error with status and code.
func wantAPIError(t *testing.T, what string, err error, status int, code string) {
	t.Helper()
	var apierr *sdk.Error
	if !errors.As(err, &apierr) || apierr.StatusCode != status || apierr.Code != code || apierr.Message == "" {
		t.Errorf("%s: %v; want the SDK's error %d %s with a message", what, err, status, code)
	}
}

// openai-go's Responses client: a released call answered on the stored
// response, streaming, refusal, approval, and another caller's ids.
func TestInterop_ResponsesOpenAIGoClient(t *testing.T) {
	g := startGateway(t, gwOptions{script: interopScript, config: openAIConfig("")})
	ctx := context.Background()
	c, admin := goClient(g, "agent"), goClient(g, "admin")
	tools := []responses.ToolUnionParam{emailResponsesTool}

	r1, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-test", Input: textInput("PLEASE_EMAIL bob@bank.example"), Tools: tools})
	if err != nil {
		t.Fatal(err)
	}
	fc := functionCalls(r1)
	if len(fc) != 1 || fc[0].Name != "send_email" || !strings.Contains(fc[0].Arguments.OfString, "bob@bank.example") {
		t.Fatalf("released calls %+v", r1.Output)
	}
	// previous_response_id continues the conversation: the call's output
	// is all the client sends.
	r2, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-test", PreviousResponseID: param.NewOpt(r1.ID),
		Input: callOutput(fc[0].CallID, "queued"), Tools: tools})
	if err != nil || r2.OutputText() != "done: queued" {
		t.Fatalf("continued = %v, %v", r2, err)
	}
	// Another caller may neither continue it nor answer its call.
	_, err = admin.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-test", PreviousResponseID: param.NewOpt(r1.ID), Input: textInput("hi")})
	wantAPIError(t, "another caller's previous_response_id", err, 404, "response_not_found")
	_, err = admin.Responses.Get(ctx, r1.ID, responses.ResponseGetParams{})
	wantAPIError(t, "another caller's stored response", err, 404, "not_found")
	_, err = admin.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-test", Input: callOutput(fc[0].CallID, "forged"), Tools: tools})
	wantAPIError(t, "another caller's call id", err, 400, "unknown_tool_call")
	if got, err := c.Responses.Get(ctx, r1.ID, responses.ResponseGetParams{}); err != nil || got.ID != r1.ID {
		t.Errorf("the owner's stored response = %v, %v", got, err)
	}

	// Streamed: sequence numbers 0, 1, 2, ...; the call whole at the end.
	stream := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "gpt-test", Input: textInput("PLEASE_EMAIL dave@bank.example"), Tools: tools})
	var n int64
	var final responses.Response
	for stream.Next() {
		ev := stream.Current()
		if ev.SequenceNumber != n {
			t.Errorf("event %d (%s) has sequence_number %d", n, ev.Type, ev.SequenceNumber)
		}
		n++
		if ev.Type == "response.completed" {
			final = ev.AsResponseCompleted().Response
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if fc := functionCalls(&final); len(fc) != 1 || !strings.Contains(fc[0].Arguments.OfString, "dave@bank.example") {
		t.Errorf("streamed response %+v", final.Output)
	}

	// A condition over the arguments holds; a call needing approval is held.
	for prompt, want := range map[string]string{"PLEASE_EMAIL eve@evil.example": "not permitted", "PLEASE_PAY INV-7": "awaits human approval"} {
		r, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-test", Input: textInput(prompt),
			Tools: []responses.ToolUnionParam{emailResponsesTool, responses.ToolParamOfFunction("pay_invoice", map[string]any{"type": "object"}, false)}})
		if err != nil || len(functionCalls(r)) != 0 || !strings.Contains(r.OutputText(), want) {
			t.Errorf("%s = %v, %v", prompt, r, err)
		}
	}
	// Error paths, as the SDK parses them.
	bad := goClientKey(g, "gh_not-a-key")
	_, err = bad.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-test", Input: textInput("hi")})
	wantAPIError(t, "a bad key", err, 401, "invalid_token")
	_, err = c.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-test", Input: textInput("hi"),
		Tools: []responses.ToolUnionParam{responses.ToolParamOfWebSearch(responses.WebSearchToolTypeWebSearch)}})
	wantAPIError(t, "a hosted tool", err, 400, "hosted_tool")
	_, err = c.Responses.New(ctx, responses.ResponseNewParams{Model: "no-such-model", Input: textInput("hi")})
	wantAPIError(t, "an unknown model", err, 404, "model_not_found")
}

// A refused call's arguments never leave in a stream: not as an output
// item, not as a delta, in no byte outside gatehouse's record of the
// decision (gatehouse.tool_calls in response.completed).
func TestResponses_StreamSendsNoByteOfARefusedCall(t *testing.T) {
	g := startGateway(t, gwOptions{script: interopScript, config: openAIConfig("")})
	resp := g.openStream("/v1/responses", "agent", `{"model":"gpt-test","stream":true,"input":"PLEASE_EMAIL eve@evil.example",
		"tools":[{"type":"function","name":"send_email","parameters":{"type":"object"}}]}`)
	evs := events(resp, nil)
	var completed map[string]any
	for i, e := range evs {
		var ev struct {
			Type     string         `json:"type"`
			Seq      int            `json:"sequence_number"`
			Response map[string]any `json:"response"`
		}
		if err := json.Unmarshal([]byte(e.data), &ev); err != nil || ev.Type != e.name || ev.Seq != i {
			t.Fatalf("event %d: %s %s (%v)", i, e.name, e.data, err)
		}
		if ev.Type == "response.completed" {
			completed = ev.Response
			continue
		}
		if strings.Contains(e.data, "evil.example") || strings.Contains(e.data, `"function_call"`) {
			t.Fatalf("a refused call's bytes reached the client: %s", e.data)
		}
	}
	if completed == nil {
		t.Fatalf("no response.completed: %v", evs)
	}
	gh := completed["gatehouse"].(map[string]any)
	delete(completed, "gatehouse")
	if b, _ := json.Marshal(completed); strings.Contains(string(b), "evil.example") || strings.Contains(string(b), `"function_call"`) {
		t.Errorf("the completed response carries the refused call: %s", b)
	}
	if calls := gh["tool_calls"].([]any); gh["refused"] != true || len(calls) != 3 || calls[0].(map[string]any)["decision"] != "deny" {
		t.Errorf("gatehouse = %v; want the refusal recorded (1 + max_retries decisions)", gh)
	}
}

// goClientKey is openai-go with a raw key.
func goClientKey(g *gateway, key string) sdk.Client {
	return sdk.NewClient(option.WithBaseURL(g.base+"/v1"), option.WithAPIKey(key), option.WithMaxRetries(0))
}

// A hosted tool type the model's config lists is accepted and not
// forwarded (the upstream speaks Chat Completions); any other is 400.
func TestResponses_HostedToolsOnlyWhenConfigured(t *testing.T) {
	cfg := func(g *gateway) string {
		return strings.Replace(openAIConfig("")(g), "gpt-test: {permission: llm.use, upstream: test-model}",
			"gpt-test: {permission: llm.use, upstream: test-model, hosted_tools: [web_search]}", 1)
	}
	g := startGateway(t, gwOptions{script: interopScript, config: cfg})
	body := func(hosted string) map[string]any {
		return map[string]any{"model": "gpt-test", "input": "PLEASE_EMAIL bob@bank.example", "tools": []any{
			map[string]any{"type": hosted, "search_context_size": "low"},
			map[string]any{"type": "function", "name": "send_email", "parameters": map[string]any{"type": "object"}}}}
	}
	if r := g.do("POST", "/v1/responses", "agent", body("file_search")); r.status != 400 || !strings.Contains(r.raw, `"code":"hosted_tool"`) ||
		!strings.Contains(r.raw, `file_search`) || !strings.Contains(r.raw, `"param":"tools[0].type"`) {
		t.Errorf("an unlisted hosted tool: %d %s", r.status, r.raw)
	}
	before := len(g.upstream.Requests())
	r := g.do("POST", "/v1/responses", "agent", body("web_search"))
	if r.status != 200 || !strings.Contains(r.raw, `"type":"function_call"`) {
		t.Fatalf("a listed hosted tool: %d %s", r.status, r.raw)
	}
	reqs := g.upstream.Requests()
	if len(reqs) != before+1 || strings.Join(reqs[len(reqs)-1].ToolNames(), ",") != "send_email" {
		t.Errorf("the upstream was offered %v; want send_email only", reqs[len(reqs)-1].ToolNames())
	}
}
