package openai

// The request in the SDK's own param types, as Complete built it before
// it sent encodeRequest's body: kept for BenchmarkComplete's comparison.

import (
	"encoding/json"
	"fmt"
	"sync"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"

	"github.com/gatehousehq/gatehouse/internal/llm"
)

// params is req in the SDK's terms: the model (the request's, else the
// configured one), the messages, the tools and the options that are set.
func (o *Client) sdkParams(req llm.Request) (sdk.ChatCompletionNewParams, error) {
	model := req.Model
	if model == "" {
		model = o.model
	}
	params := sdk.ChatCompletionNewParams{
		Model:    shared.ChatModel(model),
		Messages: toParams(req.Messages),
	}
	for _, t := range req.Tools {
		ps, err := benchSchemas.get(t.Parameters)
		if err != nil {
			return params, fmt.Errorf("encode tool %s: %w", t.Name, err)
		}
		fn := shared.FunctionDefinitionParam{Name: t.Name, Parameters: ps}
		if t.Description != "" {
			fn.Description = sdk.String(t.Description)
		}
		params.Tools = append(params.Tools, sdk.ChatCompletionFunctionTool(fn))
	}
	setOptions(&params, req.Options)
	return params, nil
}

// maxSchemas bounds the schema cache; a reload that brings new schemas
// past it starts the cache afresh.
const maxSchemas = 1024

// schemaCache keeps tool schemas decoded into the SDK's map, keyed by
// their JSON: the same few schemas (the config's tools) go with every
// model call, and decoding each into a map[string]any was ~6% of a run's
// allocations. The maps are shared by concurrent calls and only read (the
// SDK marshals them), never modified.
var benchSchemas schemaCache

type schemaCache struct {
	mu sync.RWMutex
	m  map[string]shared.FunctionParameters
}

func (c *schemaCache) get(raw json.RawMessage) (shared.FunctionParameters, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	c.mu.RLock()
	ps, ok := c.m[string(raw)]
	c.mu.RUnlock()
	if ok {
		return ps, nil
	}
	if err := json.Unmarshal(raw, &ps); err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= maxSchemas || c.m == nil {
		c.m = make(map[string]shared.FunctionParameters)
	}
	c.m[string(raw)] = ps
	c.mu.Unlock()
	return ps, nil
}

func setOptions(p *sdk.ChatCompletionNewParams, o llm.Options) {
	if o.Temperature != nil {
		p.Temperature = sdk.Float(*o.Temperature)
	}
	if o.TopP != nil {
		p.TopP = sdk.Float(*o.TopP)
	}
	if o.MaxTokens != nil {
		p.MaxTokens = sdk.Int(*o.MaxTokens)
	}
	if o.MaxCompletionTokens != nil {
		p.MaxCompletionTokens = sdk.Int(*o.MaxCompletionTokens)
	}
	if len(o.Stop) > 0 {
		p.Stop = sdk.ChatCompletionNewParamsStopUnion{OfStringArray: o.Stop}
	}
	if o.Seed != nil {
		p.Seed = sdk.Int(*o.Seed)
	}
	if o.ParallelToolCalls != nil {
		p.ParallelToolCalls = sdk.Bool(*o.ParallelToolCalls)
	}
	if tc := o.ToolChoice; tc != nil {
		switch {
		case tc.Function != "":
			p.ToolChoice = sdk.ChatCompletionToolChoiceOptionUnionParam{
				OfFunctionToolChoice: &sdk.ChatCompletionNamedToolChoiceParam{
					Function: sdk.ChatCompletionNamedToolChoiceFunctionParam{Name: tc.Function},
				},
			}
		case tc.Mode != "":
			p.ToolChoice = sdk.ChatCompletionToolChoiceOptionUnionParam{OfAuto: sdk.String(tc.Mode)}
		}
	}
}

func toParams(msgs []llm.Message) []sdk.ChatCompletionMessageParamUnion {
	out := make([]sdk.ChatCompletionMessageParamUnion, 0, len(msgs))
	for _, m := range msgs {
		switch m.Role {
		case "system":
			out = append(out, sdk.SystemMessage(m.Content))
		case "user":
			out = append(out, sdk.UserMessage(m.Content))
		case "tool":
			out = append(out, sdk.ToolMessage(m.Content, m.ToolCallID))
		case "assistant":
			a := sdk.ChatCompletionAssistantMessageParam{}
			if m.Content != "" {
				a.Content.OfString = sdk.String(m.Content)
			}
			for _, tc := range m.ToolCalls {
				a.ToolCalls = append(a.ToolCalls, sdk.ChatCompletionMessageToolCallUnionParam{
					OfFunction: &sdk.ChatCompletionMessageFunctionToolCallParam{
						ID: tc.ID,
						Function: sdk.ChatCompletionMessageFunctionToolCallFunctionParam{
							Name: tc.Name, Arguments: tc.Arguments,
						},
					},
				})
			}
			out = append(out, sdk.ChatCompletionMessageParamUnion{OfAssistant: &a})
		}
	}
	return out
}
