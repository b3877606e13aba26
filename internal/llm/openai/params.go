package openai

import (
	"encoding/json"
	"fmt"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"

	"github.com/gatehousehq/gatehouse/internal/llm"
)

// params is req in the SDK's terms: the model (the request's, else the
// configured one), the messages, the tools and the options that are set.
func (o *Client) params(req llm.Request) (sdk.ChatCompletionNewParams, error) {
	model := req.Model
	if model == "" {
		model = o.model
	}
	params := sdk.ChatCompletionNewParams{
		Model:    shared.ChatModel(model),
		Messages: toParams(req.Messages),
	}
	for _, t := range req.Tools {
		var ps shared.FunctionParameters
		if len(t.Parameters) > 0 {
			if err := json.Unmarshal(t.Parameters, &ps); err != nil {
				return params, fmt.Errorf("encode tool %s: %w", t.Name, err)
			}
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
