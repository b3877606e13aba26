package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gatehousehq/gatehouse/internal/openaiwire"
)

// passBody is the one request of D1, Portkey and GP: a user message and
// the client tool send_email, to the pass-through model.
var passBody = []byte(`{"model":"` + passModel + `","messages":[{"role":"user","content":"Where can I see my payments?"}],` +
	`"tools":[{"type":"function","function":{"name":"send_email","description":"Send an e-mail","parameters":{"type":"object","required":["to","subject","body"],` +
	`"properties":{"to":{"type":"string"},"subject":{"type":"string"},"body":{"type":"string"}}}}}]}`)

// passAnswered checks a chat completion carries passAnswer.
func passAnswered(b []byte) error {
	c, err := openaiwire.DecodeChatCompletion(b)
	if err != nil || len(c.Choices) == 0 {
		return fmt.Errorf("answer: %v: %.200s", err, b)
	}
	if c.Choices[0].Message.Text() != passAnswer {
		return fmt.Errorf("answer lacks the model's content: %.200s", b)
	}
	return nil
}

// passRequest returns a one-request run: passBody POSTed to url with the
// headers, the answer checked.
func passRequest(client *http.Client, url string, h http.Header) runFunc {
	return func(ctx context.Context) (time.Time, error) {
		b, err := post(ctx, client, url, passBody, h)
		if err != nil {
			return time.Time{}, err
		}
		return time.Time{}, passAnswered(b)
	}
}

// directPass is D1: passBody sent to the upstream itself.
func directPass(client *http.Client, upstream string) runFunc {
	return passRequest(client, upstream+"/chat/completions", http.Header{"Authorization": {"Bearer sk-bench"}})
}

// viaPortkey is passBody through the Portkey gateway to the upstream, as
// Portkey documents an OpenAI-compatible server without a config: the
// provider and the custom host in headers, the provider's key as bearer.
func viaPortkey(client *http.Client, base, upstream string) runFunc {
	return passRequest(client, base+"/v1/chat/completions", http.Header{
		"Authorization":         {"Bearer sk-bench"},
		"X-Portkey-Provider":    {"openai"},
		"X-Portkey-Custom-Host": {upstream},
	})
}

// viaPassthrough is GP: passBody through gatehouse's governed pass-through
// with the caller's key.
func viaPassthrough(client *http.Client, base, key string) runFunc {
	return passRequest(client, base+"/v1/chat/completions", http.Header{"Authorization": {"Bearer " + key}})
}

// respBody is GP's request on the Responses API.
var respBody = []byte(`{"model":"` + passModel + `","input":"Where can I see my payments?",` +
	`"tools":[{"type":"function","name":"send_email","description":"Send an e-mail","parameters":{"type":"object","required":["to","subject","body"],` +
	`"properties":{"to":{"type":"string"},"subject":{"type":"string"},"body":{"type":"string"}}}}]}`)

// viaResponses is GR: respBody through gatehouse's governed pass-through on
// /v1/responses, the answer's text checked.
func viaResponses(client *http.Client, base, key string) runFunc {
	h := http.Header{"Authorization": {"Bearer " + key}}
	return func(ctx context.Context) (time.Time, error) {
		b, err := post(ctx, client, base+"/v1/responses", respBody, h)
		if err != nil {
			return time.Time{}, err
		}
		r, err := openaiwire.DecodeResponse(b)
		if err != nil || len(r.Output) == 0 || len(r.Output[0].Content) == 0 ||
			r.Output[0].Content[0].Text != passAnswer {
			return time.Time{}, fmt.Errorf("answer lacks the model's content: %.200s", b)
		}
		return time.Time{}, nil
	}
}

// streamBody asks for streamQuestion with stream: true; model is the
// agent's name through gatehouse, the upstream's model directly.
func streamBody(model string) []byte {
	return []byte(`{"model":"` + model + `","stream":true,"messages":[{"role":"user","content":"` + streamQuestion + `"}]}`)
}

// streamRun POSTs body and reads the event stream to [DONE], returning
// the moment the line carrying the first content piece arrived.
func streamRun(client *http.Client, url string, body []byte, auth string) runFunc {
	// A prefix: data protection sends a word once the next separator
	// arrives ("Hello " with the next piece's space), not a word alone.
	first := []byte(`"content":"` + streamChunks[0])
	done := []byte("data: [DONE]")
	return func(ctx context.Context) (time.Time, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return time.Time{}, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+auth)
		resp, err := client.Do(req)
		if err != nil {
			return time.Time{}, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return time.Time{}, fmt.Errorf("status %d: %s", resp.StatusCode, b)
		}
		var mark time.Time
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Bytes()
			if mark.IsZero() && bytes.Contains(line, first) {
				mark = time.Now()
			}
			if bytes.HasPrefix(line, done) {
				if mark.IsZero() {
					return time.Time{}, fmt.Errorf("stream ended without the first content piece")
				}
				return mark, nil
			}
		}
		if err := sc.Err(); err != nil {
			return time.Time{}, err
		}
		return time.Time{}, fmt.Errorf("stream ended without [DONE]")
	}
}
