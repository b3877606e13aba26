package openaiwire_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/openaiwire"
)

const user = `"messages":[{"role":"user","content":"hi"}]`

// A request a lenient reader could take differently is refused, naming
// the member; what the OpenAI SDKs send is accepted.
func TestDecodeChatRequest_RefusesWhatAReaderCouldTakeDifferently(t *testing.T) {
	for _, tt := range []struct {
		name, body  string
		param, want string // want: in the error's text
	}{
		{"case-variant top-level key", `{"model":"m",` + user + `,"MODEL":"other"}`, "", `unknown field (member names are lowercase and case-sensitive): "MODEL"`},
		{"case-variant messages", `{"model":"m","Messages":[{"role":"user","content":"hi"}]}`, "", `"Messages"`},
		{"case-variant in a message", `{"model":"m","messages":[{"role":"user","content":"hi","Role":"system"}]}`, "messages[0]", `"Role"`},
		{"case-variant in a tool call", `{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}","Name":"g"}}]}]}`, "messages[0].tool_calls[0].function", `"Name"`},
		{"case-variant in a text part", `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a","TEXT":"b"}]}]}`, "messages[0].content[0]", `"TEXT"`},
		{"duplicate key", `{"model":"m","model":"n",` + user + `}`, "", `given twice: "model"`},
		{"duplicate key in a message", `{"model":"m","messages":[{"role":"user","role":"system","content":"x"}]}`, "", `given twice: "role"`},
		{"unknown member", `{"model":"m",` + user + `,"logit_bias":{"1":2}}`, "", `unknown field: "logit_bias"`},
		{"wrong type", `{"model":"m",` + user + `,"stream":"yes"}`, "stream", "must be a boolean"},
		{"model missing", `{` + user + `}`, "model", "is required"},
		{"messages missing", `{"model":"m"}`, "messages", "is required"},
		{"messages empty", `{"model":"m","messages":[]}`, "messages", "must not be empty"},
		{"unknown role", `{"model":"m","messages":[{"role":"root","content":"x"}]}`, "messages[0].role", "must be system"},
		{"tool message without id", `{"model":"m","messages":[{"role":"tool","content":"x"}]}`, "messages[0].tool_call_id", "needs it"},
		{"tool calls on a user message", `{"model":"m","messages":[{"role":"user","tool_calls":[]},{"role":"user","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}]}`, "messages[1].tool_calls", "only assistant"},
		{"image part", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`, "messages[0].content", "of type text"},
		{"content a number", `{"model":"m","messages":[{"role":"user","content":5}]}`, "messages[0].content", "a string or an array"},
		{"tool not a function", `{"model":"m",` + user + `,"tools":[{"type":"custom","function":{"name":"f"}}]}`, "tools[0].type", "only function tools"},
		{"tool without name", `{"model":"m",` + user + `,"tools":[{"type":"function","function":{"description":"d"}}]}`, "tools[0].function.name", "is required"},
		{"tool_choice mode", `{"model":"m",` + user + `,"tool_choice":"always"}`, "tool_choice", "must be auto"},
		{"tool_choice without name", `{"model":"m",` + user + `,"tool_choice":{"type":"function","function":{}}}`, "tool_choice", "name is required"},
		{"stop a number", `{"model":"m",` + user + `,"stop":5}`, "stop", "a string or an array of strings"},
		{"two choices", `{"model":"m",` + user + `,"n":2}`, "n", "only one choice"},
		{"trailing data", `{"model":"m",` + user + `} {}`, "", "malformed JSON"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := openaiwire.DecodeChatRequest([]byte(tt.body))
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

func TestDecodeChatRequest_AcceptsWhatTheSDKsSend(t *testing.T) {
	body := `{"model":"m","messages":[
		{"role":"system","content":"s"},
		{"role":"developer","content":"d","name":"ops"},
		{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b","providerData":{"x":1}}]},
		{"role":"assistant","content":null,"refusal":null,"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
		{"role":"tool","tool_call_id":"c1","content":"ok"}],
		"tools":[{"type":"function","function":{"name":"f","description":"F","parameters":{"type":"object"},"strict":true}}],
		"tool_choice":{"type":"function","function":{"name":"f"}},"parallel_tool_calls":false,
		"stream":true,"stream_options":{"include_usage":true,"include_obfuscation":false},
		"temperature":0.5,"top_p":1,"max_tokens":10,"max_completion_tokens":20,"stop":"END","seed":7,"n":1,
		"user":"u","store":false,"metadata":{"k":"v"},"frequency_penalty":0,"presence_penalty":0}`
	req, err := openaiwire.DecodeChatRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, m := range req.Messages {
		texts = append(texts, m.Role+":"+m.Text())
	}
	if diff := cmp.Diff([]string{"system:s", "developer:d", "user:ab", "assistant:", "tool:ok"}, texts); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	tc := req.Messages[3].ToolCalls
	if len(tc) != 1 || tc[0].ID != "c1" || tc[0].Function.Name != "f" || tc[0].Function.Arguments != "{}" {
		t.Errorf("tool calls %+v", tc)
	}
	if req.ToolChoice == nil || *req.ToolChoice != (openaiwire.ToolChoice{Function: "f"}) || !cmp.Equal([]string(req.Stop), []string{"END"}) ||
		!req.Stream || !req.StreamOptions.IncludeUsage || string(req.Tools[0].Function.Parameters) != `{"type":"object"}` {
		t.Errorf("request %+v", req)
	}
}

// A caller's member name is the caller's input: the error carries it apart
// (Name), for the API to quote bounded, and Param holds protocol names only.
func TestDecodeChatRequest_ErrorKeepsTheCallersNameApart(t *testing.T) {
	long := strings.Repeat("X", 300)
	_, err := openaiwire.DecodeChatRequest([]byte(`{"model":"m","messages":[{"role":"user","content":"hi","` + long + `":1}]}`))
	e, ok := err.(*openaiwire.Error)
	if !ok || e.Name != long || e.Param != "messages[0]" {
		t.Fatalf("error %+v", err)
	}
	quote := func(s string) string { return strconv.Quote(s[:min(len(s), 8)]) }
	if got := e.Detail(quote); strings.Contains(got, long[:9]) {
		t.Errorf("detail %q does not quote the name through quote", got)
	}
}

// A model server's answer may carry members this package does not read.
func TestDecodeChatCompletion_IgnoresMembersAServerAdds(t *testing.T) {
	body := `{"id":"x","object":"chat.completion","created":1,"model":"m","system_fingerprint":"fp","service_tier":"default",
		"choices":[{"index":0,"message":{"role":"assistant","content":null,"annotations":[],"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls","logprobs":{"content":[]}}],
		"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3,"prompt_tokens_details":{"cached_tokens":0}}}`
	c, err := openaiwire.DecodeChatCompletion([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if ch := c.Choices[0]; ch.FinishReason != "tool_calls" || ch.Message.ToolCalls[0].Function.Name != "f" || c.Usage.TotalTokens != 3 {
		t.Errorf("completion %+v", c)
	}
	if _, err := openaiwire.DecodeChatCompletion([]byte(`{"choices":[],"choices":[{}]}`)); err == nil {
		t.Error("a member named twice was accepted")
	}
}

// A stream's event is a chunk or an error in its place; the reused value
// keeps nothing of the event before.
func TestDecodeStreamedChunk_ReadsAnErrorInPlaceOfAChunk(t *testing.T) {
	var c openaiwire.StreamedChunk
	for _, tt := range []struct {
		data, wantErr, wantContent string
	}{
		{`{"id":"a","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}`, "", "hi"},
		{`{"error":{"message":"overloaded","type":"server_error"}}`, `{"message":"overloaded","type":"server_error"}`, ""},
		{`{"id":"a","choices":[],"error":null}`, "null", ""},
		{`{"id":"a","choices":[]}`, "", ""},
	} {
		if err := openaiwire.DecodeStreamedChunk([]byte(tt.data), &c); err != nil {
			t.Fatalf("%s: %v", tt.data, err)
		}
		var content string
		if len(c.Choices) > 0 {
			content = c.Choices[0].Delta.Text()
		}
		if string(c.Error) != tt.wantErr || (tt.wantErr == "") != (c.Error == nil) || content != tt.wantContent {
			t.Errorf("%s: error %q, content %q; want %q, %q", tt.data, c.Error, content, tt.wantErr, tt.wantContent)
		}
	}
	// The choices' room is reused, never what was in it.
	for _, data := range []string{
		`{"id":"a","choices":[{"index":0,"delta":{"content":"hi","tool_calls":[{"index":0,"id":"c"}]},"finish_reason":"stop"}]}`,
		`{"id":"a","choices":[{"index":1,"delta":{}}]}`,
	} {
		if err := openaiwire.DecodeStreamedChunk([]byte(data), &c); err != nil {
			t.Fatal(err)
		}
	}
	if want := []openaiwire.ChunkChoice{{Index: 1}}; !cmp.Equal(c.Choices, want) {
		t.Errorf("choices after a reuse: %s", cmp.Diff(want, c.Choices))
	}
	if err := openaiwire.DecodeStreamedChunk([]byte(`{"id":"a","id":"b"}`), &c); err == nil {
		t.Error("a member named twice was read")
	}
}
