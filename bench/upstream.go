package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
	"github.com/gatehousehq/gatehouse/internal/openaiwire"
)

const (
	question    = "What payments has customer C-100 made?"
	finalAnswer = "Customer C-100 made 2 payments."

	// passModel is the pass-through model (GP, Portkey, D1); the upstream
	// answers it with passAnswer.
	passModel  = "bench-pass"
	passAnswer = "Your payments are listed in the portal."
	// streamQuestion asks the agent for an answer without a tool, which
	// the upstream streams in streamChunks.
	streamQuestion = "Say hello."
)

// streamChunks are the streamed answer's pieces; the first is what time
// to first content byte waits for.
var streamChunks = []string{"Hello", " from", " the", " model."}

// startUpstream serves the scripted model on loopback: a tool call to
// payments_lookup for C-100, then, once a tool result is in the
// conversation, the final answer; passAnswer to the pass-through model;
// streamChunks to streamQuestion. It returns the base URL ending in /v1.
func startUpstream(delay time.Duration) (string, func(), error) {
	h := llmtest.NewHandler(func(_ int, req *llmtest.Request) llmtest.Reply {
		switch {
		case req.Model == passModel:
			return llmtest.Reply{Content: passAnswer, Delay: delay}
		case req.Last().Text() == streamQuestion:
			return llmtest.Reply{Chunks: streamChunks, Delay: delay}
		case req.Last().Role == "tool":
			return llmtest.Reply{Content: finalAnswer, Delay: delay}
		}
		return llmtest.Reply{ToolCalls: []llmtest.ToolCall{llmtest.Call("call_1", "payments_lookup", `{"customer_id":"C-100"}`)}, Delay: delay}
	})
	h.Keep = false
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() { _ = srv.Serve(ln) }()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	return "http://" + ln.Addr().String() + "/v1", stop, nil
}

// toolsJSON is what gatehouse offers the customer: the two tools its role
// may use, with their schemas.
const toolsJSON = `[{"type":"function","function":{"name":"claims_status","description":"Look up the status and amount of an insurance claim by its id (e.g. CLM-1001).","parameters":{"type":"object","properties":{"claim_id":{"type":"string","description":"The claim id, e.g. CLM-1001","pattern":"^CLM-[0-9]{1,12}$"}},"required":["claim_id"]}}},` +
	`{"type":"function","function":{"name":"payments_lookup","description":"List a customer's payments by customer id (e.g. C-100).","parameters":{"type":"object","properties":{"customer_id":{"type":"string","description":"The customer id, e.g. C-100","pattern":"^C-[0-9]{1,12}$"}},"required":["customer_id"]}}}]`

// directBodies are D's two request bodies, the same conversation gatehouse
// sends: system and user message with the tools, then the tool call and
// its result appended.
func directBodies() [2][]byte {
	sys := `{"role":"system","content":"You are a concise support assistant for authenticated users."}`
	user := `{"role":"user","content":"` + question + `"}`
	call := `{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"payments_lookup","arguments":"{\"customer_id\":\"C-100\"}"}}]}`
	result := `{"role":"tool","tool_call_id":"call_1","content":"{\"customer_id\":\"C-100\",\"payments\":[{\"payment_id\":\"PAY-9001\",\"date\":\"2024-01-15\",\"amount\":120.5,\"method\":\"card\"},{\"payment_id\":\"PAY-9002\",\"date\":\"2024-02-15\",\"amount\":120.5,\"method\":\"card\"}]}"}`
	first := `{"model":"bench-model","messages":[` + sys + `,` + user + `],"tools":` + toolsJSON + `}`
	second := `{"model":"bench-model","messages":[` + sys + `,` + user + `,` + call + `,` + result + `],"tools":` + toolsJSON + `}`
	return [2][]byte{[]byte(first), []byte(second)}
}

// direct returns D's run: both upstream calls, each answer decoded and
// checked, as a client calling the model itself would.
func direct(client *http.Client, upstream string) runFunc {
	bodies := directBodies()
	url := upstream + "/chat/completions"
	auth := http.Header{"Authorization": {"Bearer sk-bench"}}
	call := func(ctx context.Context, body []byte) (*openaiwire.ChatCompletion, error) {
		b, err := post(ctx, client, url, body, auth)
		if err != nil {
			return nil, fmt.Errorf("upstream: %w", err)
		}
		c, err := openaiwire.DecodeChatCompletion(b)
		if err != nil || len(c.Choices) == 0 {
			return nil, fmt.Errorf("upstream answer: %v", err)
		}
		return c, nil
	}
	return func(ctx context.Context) (time.Time, error) {
		c, err := call(ctx, bodies[0])
		if err != nil {
			return time.Time{}, err
		}
		if len(c.Choices[0].Message.ToolCalls) != 1 {
			return time.Time{}, fmt.Errorf("upstream: want one tool call")
		}
		if c, err = call(ctx, bodies[1]); err != nil {
			return time.Time{}, err
		}
		if c.Choices[0].Message.Text() != finalAnswer {
			return time.Time{}, fmt.Errorf("upstream: want the final answer")
		}
		return time.Time{}, nil
	}
}

// viaGateway returns a G run: POST /v1/chat with the next token, checked
// for 200, the allowed tool call and the final answer.
func viaGateway(client *http.Client, base string, tokens []string) runFunc {
	url := base + "/v1/chat"
	body := []byte(`{"message":"` + question + `"}`)
	allowed := []byte(`"decision":"allow"`)
	answer := []byte(finalAnswer)
	var next atomic.Uint64
	return func(ctx context.Context) (time.Time, error) {
		tok := tokens[next.Add(1)%uint64(len(tokens))]
		b, err := post(ctx, client, url, body, http.Header{"Authorization": {"Bearer " + tok}})
		if err != nil {
			return time.Time{}, err
		}
		if !bytes.Contains(b, allowed) || !bytes.Contains(b, answer) {
			return time.Time{}, fmt.Errorf("gateway answer lacks the allowed tool call or the final answer: %.200s", b)
		}
		return time.Time{}, nil
	}
}

// post sends a JSON body with the headers and returns the answer's body,
// an error unless the status is 200.
func post(ctx context.Context, client *http.Client, url string, body []byte, h http.Header) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, vs := range h {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %.200s", resp.StatusCode, b)
	}
	return b, nil
}

// newClient is the generator's HTTP client: enough idle connections that
// no run waits for, or churns, a connection.
func newClient(conns int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 4 * conns
	t.MaxIdleConnsPerHost = 2 * conns
	// Under Node's 5 s keep-alive timeout: a connection the Portkey
	// gateway closed while idle between segments would be reused and
	// reset (a POST is not retried).
	t.IdleConnTimeout = 3 * time.Second
	return &http.Client{Transport: t, Timeout: 20 * time.Second}
}
