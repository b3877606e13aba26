package openaiwire_test

import (
	"encoding/json"
	"strings"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/openaiwire"
)

// What a lenient reader could take differently is refused on
// /v1/responses too, naming the member; what the SDKs send is accepted.
func TestDecodeResponsesRequest_RefusesWhatAReaderCouldTakeDifferently(t *testing.T) {
	for _, tt := range []struct {
		name, body  string
		param, want string
	}{
		{"case-variant top-level key", `{"model":"m","input":"hi","INPUT":"x"}`, "", `"INPUT"`},
		{"duplicate key", `{"model":"m","input":"hi","input":"x"}`, "", `given twice: "input"`},
		{"duplicate key in an item", `{"model":"m","input":[{"type":"message","role":"user","role":"system","content":"x"}]}`, "", `given twice: "role"`},
		{"case-variant in an item", `{"model":"m","input":[{"type":"message","role":"user","content":"x","Role":"system"}]}`, "input[0]", `"Role"`},
		{"case-variant in a part", `{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"a","Text":"b"}]}]}`, "input[0]", `"Text"`},
		{"case-variant call id", `{"model":"m","input":[{"type":"function_call_output","call_id":"call_a","CALL_ID":"call_b","output":"x"}]}`, "input[0]", `"CALL_ID"`},
		{"unknown member", `{"model":"m","input":"hi","logit_bias":{}}`, "", `unknown field: "logit_bias"`},
		{"unknown member of a function tool", `{"model":"m","input":"hi","tools":[{"type":"function","name":"f","x":1}]}`, "tools[0]", `"x"`},
		{"model missing", `{"input":"hi"}`, "model", "is required"},
		{"input missing", `{"model":"m"}`, "input", "is required"},
		{"input a number", `{"model":"m","input":5}`, "input", "a string or an array"},
		{"unserved item", `{"model":"m","input":[{"type":"computer_call_output","call_id":"c"}]}`, "input[0]", `"computer_call_output"`},
		{"image part", `{"model":"m","input":[{"role":"user","content":[{"type":"input_image","image_url":"x"}]}]}`, "input[0]", "must be text"},
		{"unknown role", `{"model":"m","input":[{"role":"root","content":"x"}]}`, "input[0]", "role must be"},
		{"call without arguments", `{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f"}]}`, "input[0]", `is required: "arguments"`},
		{"output without call id", `{"model":"m","input":[{"type":"function_call_output","output":"x"}]}`, "input[0]", `is required: "call_id"`},
		{"function tool without name", `{"model":"m","input":"hi","tools":[{"type":"function"}]}`, "tools[0].name", "is required"},
		{"tool_choice mode", `{"model":"m","input":"hi","tool_choice":"always"}`, "tool_choice", "must be auto"},
		{"conversation", `{"model":"m","input":"hi","conversation":"conv_1"}`, "conversation", "not served"},
		{"background", `{"model":"m","input":"hi","background":true}`, "background", "not served"},
		{"metadata not strings", `{"model":"m","input":"hi","metadata":{"k":1}}`, "metadata.k", "a string"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := openaiwire.DecodeResponsesRequest([]byte(tt.body))
			e, ok := err.(*openaiwire.Error)
			if !ok {
				t.Fatalf("error %v (%T); want an *openaiwire.Error", err, err)
			}
			if e.Param != tt.param || !strings.Contains(e.Error(), tt.want) {
				t.Errorf("param %q, error %q; want param %q and %q in it", e.Param, e.Error(), tt.param, tt.want)
			}
		})
	}
}

func TestDecodeResponsesRequest_AcceptsWhatTheSDKsSend(t *testing.T) {
	body := `{"model":"m","instructions":"be brief","input":[
		{"role":"user","content":"hi"},
		{"id":"msg_1","type":"message","role":"assistant","status":"completed","content":[{"type":"output_text","text":"hello","annotations":[],"logprobs":[]}],"provider_x":1},
		{"id":"rs_1","type":"reasoning","summary":[]},
		{"type":"function_call","id":"fc_1","call_id":"call_1","name":"f","arguments":"{}","status":"completed"},
		{"type":"function_call_output","call_id":"call_1","output":[{"type":"input_text","text":"done"}]},
		{"type":"message","role":"developer","content":[{"type":"input_text","text":"d"}]}],
		"tools":[{"type":"function","name":"f","description":"F","parameters":{"type":"object"},"strict":true},{"type":"web_search","search_context_size":"low"}],
		"tool_choice":{"type":"function","name":"f"},"parallel_tool_calls":false,"stream":true,"store":false,
		"previous_response_id":"resp_1","metadata":{"k":"v"},"max_output_tokens":100,"temperature":0.5,"top_p":1,
		"include":["reasoning.encrypted_content"],"text":{"format":{"type":"text"}},"reasoning":{"effort":"low"},
		"truncation":"auto","user":"u","prompt_cache_key":"k","service_tier":"auto","safety_identifier":"s",
		"prompt_cache_retention":"24h","context_management":null,"conversation":null,"background":false}`
	req, err := openaiwire.DecodeResponsesRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := []openaiwire.InputItem{
		{Type: "message", Role: "user", Text: "hi"},
		{Type: "message", Role: "assistant", Text: "hello"},
		{Type: "reasoning"},
		{Type: "function_call", CallID: "call_1", Name: "f", Arguments: "{}"},
		{Type: "function_call_output", CallID: "call_1", Text: "done"},
		{Type: "message", Role: "developer", Text: "d"},
	}
	if diff := cmp.Diff(want, req.Input.Items); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	if len(req.Tools) != 2 || req.Tools[0].Hosted() || !req.Tools[1].Hosted() || req.Tools[1].Type != "web_search" ||
		*req.ToolChoice != (openaiwire.ResponseToolChoice{Function: "f"}) || *req.PreviousResponseID != "resp_1" || *req.Store {
		t.Errorf("request %+v", req)
	}
	s, err := openaiwire.DecodeResponsesRequest([]byte(`{"model":"m","input":"just text"}`))
	if err != nil || len(s.Input.Items) != 1 || s.Input.Items[0] != (openaiwire.InputItem{Type: "message", Role: "user", Text: "just text"}) {
		t.Errorf("string input: %+v, %v", s, err)
	}
}

// A response object as gatehouse writes it reads back whole.
func TestDecodeResponse_ReadsWhatIsWritten(t *testing.T) {
	args := `{"to":"a"}`
	in := openaiwire.Response{ID: "resp_1", Object: "response", Status: "completed", Model: "m",
		Output:     []openaiwire.OutputItem{openaiwire.MessageItem("msg_1", "completed", "hi"), openaiwire.FunctionCallItem("fc_1", "completed", "call_1", "f", args)},
		ToolChoice: openaiwire.ResponseToolChoice{Mode: "auto"}, Tools: []openaiwire.ResponseTool{{Type: "function", Name: "f"}}, Metadata: map[string]string{}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := openaiwire.DecodeResponse(append(b[:len(b)-1], []byte(`,"gatehouse":{"run_id":"r"}}`)...))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&in, got); diff != "" {
		t.Errorf("(-written +read):\n%s", diff)
	}
}

// A tool choice is written as jsonv2 writes it, whichever way it is made.
func TestResponseToolChoice_MarshalsAsJSON(t *testing.T) {
	for _, c := range []openaiwire.ResponseToolChoice{{}, {Mode: "auto"}, {Mode: "none"}, {Mode: "required"}, {Mode: `odd"<mode>`}, {Function: "f"}} {
		got, err := c.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var want []byte
		if c.Function == "" {
			want, err = jsonv2.Marshal(c.Mode)
		} else {
			want, err = jsonv2.Marshal(map[string]string{"type": "function", "name": c.Function})
		}
		if err != nil || string(got) != string(want) {
			t.Errorf("MarshalJSON(%+v) = %s; want %s", c, got, want)
		}
	}
}
