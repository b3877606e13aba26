package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
)

func goClient(g *gateway, user string) sdk.Client {
	return sdk.NewClient(option.WithBaseURL(g.base+"/v1"), option.WithAPIKey(g.keys[user]), option.WithMaxRetries(0))
}

var emailToolParam = sdk.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
	Name: "send_email",
	Parameters: shared.FunctionParameters{"type": "object", "required": []string{"to", "subject", "body"},
		"properties": map[string]any{"to": map[string]any{"type": "string"}, "subject": map[string]any{"type": "string"}, "body": map[string]any{"type": "string"}}},
})

// The official Go client (openai-go) against both kinds of model.
func TestInterop_OpenAIGoClient(t *testing.T) {
	g := startGateway(t, gwOptions{script: interopScript, config: openAIConfig("")})
	ctx := context.Background()
	c := goClient(g, "agent")

	models, err := c.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range models.Data {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "support_agent,gpt-test" {
		t.Errorf("models for agent = %v", ids)
	}
	cc := goClient(g, "customer")
	if cm, err := cc.Models.List(ctx); err != nil || len(cm.Data) != 1 {
		t.Errorf("customer (no llm.use) sees %v, %v; want only the agent", cm, err)
	}

	// An agent as a model.
	res, err := c.Chat.Completions.New(ctx, sdk.ChatCompletionNewParams{Model: "support_agent",
		Messages: []sdk.ChatCompletionMessageParamUnion{sdk.UserMessage("What is the status of CLM-1001?")}})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Choices[0].Message.Content; got != "Claim CLM-1001 is in review." {
		t.Errorf("agent answer %q", got)
	}
	var gh struct {
		RunID     string `json:"run_id"`
		ToolCalls []struct {
			Name, Decision, Status string
		} `json:"tool_calls"`
	}
	if err := json.Unmarshal([]byte(res.JSON.ExtraFields["gatehouse"].Raw()), &gh); err != nil || len(gh.ToolCalls) != 1 || gh.ToolCalls[0].Decision != "allow" {
		t.Errorf("gatehouse object %+v (%v)", gh, err)
	}

	// The pass-through, streamed: tool-call deltas assembled by the SDK's accumulator.
	stream := c.Chat.Completions.NewStreaming(ctx, sdk.ChatCompletionNewParams{Model: "gpt-test",
		Messages:      []sdk.ChatCompletionMessageParamUnion{sdk.UserMessage("PLEASE_EMAIL dave@bank.example")},
		Tools:         []sdk.ChatCompletionToolUnionParam{emailToolParam},
		StreamOptions: sdk.ChatCompletionStreamOptionsParam{IncludeUsage: sdk.Bool(true)}})
	acc := sdk.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	calls := acc.Choices[0].Message.ToolCalls
	if len(calls) != 1 || calls[0].Function.Name != "send_email" || !strings.Contains(calls[0].Function.Arguments, "dave@bank.example") {
		t.Fatalf("streamed tool calls %+v", calls)
	}
	if acc.Usage.TotalTokens == 0 {
		t.Error("no usage in the stream")
	}

	// Errors arrive as *openai.Error with gatehouse's code.
	_, err = c.Chat.Completions.New(ctx, sdk.ChatCompletionNewParams{Model: "gpt-test",
		Messages: []sdk.ChatCompletionMessageParamUnion{sdk.UserMessage("hi")},
		Tools: []sdk.ChatCompletionToolUnionParam{sdk.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name: "format_disk", Parameters: shared.FunctionParameters{"type": "object"}})}})
	var apiErr *sdk.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || apiErr.Code != "undeclared_tool" {
		t.Errorf("undeclared tool: %v", err)
	}
}

// A refused call never appears in a stream, and a released call id is
// accepted back only from the caller it was released to.
func TestPassthrough_RefusedCallsNeverStreamAndIDsBelongToTheirCaller(t *testing.T) {
	g := startGateway(t, gwOptions{script: interopScript, config: openAIConfig("")})
	tools := `"tools":[{"type":"function","function":{"name":"send_email","parameters":{"type":"object"}}}]`
	resp := g.openStream("/v1/chat/completions", "agent",
		`{"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"PLEASE_EMAIL eve@evil.example"}],`+tools+`}`)
	evs := events(resp, nil)
	var text strings.Builder
	for _, e := range evs {
		if strings.Contains(e.data, `"tool_calls":[{"index"`) {
			t.Fatalf("a refused call reached the client: %s", e.data)
		}
		text.WriteString(contentOf(e.data))
	}
	if !strings.Contains(text.String(), "not permitted") || evs[len(evs)-1].data != "[DONE]" {
		t.Errorf("refusal stream: %q, last %q", text.String(), evs[len(evs)-1].data)
	}
	// The model was asked 1 + max_retries (2) times.
	if n := g.upstream.Count(); n != 3 {
		t.Errorf("upstream asked %d times, want 3", n)
	}

	// admin gets a call released; agent may not answer it.
	r := g.do("POST", "/v1/chat/completions", "admin", `{"model":"gpt-test","messages":[{"role":"user","content":"PLEASE_EMAIL bob@bank.example"}],`+tools+`}`)
	if r.status != 200 {
		t.Fatalf("admin: %d %s", r.status, r.raw)
	}
	var c struct {
		Choices []struct {
			Message json.RawMessage `json:"message"`
		} `json:"choices"`
	}
	_ = json.Unmarshal([]byte(r.raw), &c)
	var msg struct {
		ToolCalls []ptCall `json:"tool_calls"`
	}
	_ = json.Unmarshal(c.Choices[0].Message, &msg)
	if len(msg.ToolCalls) != 1 {
		t.Fatalf("admin got no call: %s", r.raw)
	}
	// The history carries the call as released (its arguments echoed).
	args, _ := json.Marshal(msg.ToolCalls[0].Function.Arguments)
	follow := func(user string) response {
		return g.do("POST", "/v1/chat/completions", user, `{"model":"gpt-test",`+tools+`,"messages":[`+
			`{"role":"user","content":"PLEASE_EMAIL bob@bank.example"},{"role":"assistant","content":null,"tool_calls":[{"id":"`+msg.ToolCalls[0].ID+
			`","type":"function","function":{"name":"send_email","arguments":`+string(args)+`}}]},{"role":"tool","tool_call_id":"`+msg.ToolCalls[0].ID+`","content":"sent"}]}`)
	}
	if r := follow("agent"); r.status != 400 || !strings.Contains(r.raw, `"code":"unknown_tool_call"`) {
		t.Errorf("agent answering admin's call: %d %s", r.status, r.raw)
	}
	if r := follow("admin"); r.status != 200 {
		t.Errorf("admin answering its own call: %d %s", r.status, r.raw)
	}
}
