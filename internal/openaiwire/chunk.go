package openaiwire

import "github.com/go-json-experiment/json/jsontext"

// ChatCompletionChunk is one server-sent event of a streamed completion
// ("data: {...}"; the stream ends with "data: [DONE]"). The last chunk of
// a stream that asked for stream_options.include_usage has no choices and
// the usage.
type ChatCompletionChunk struct {
	ID      string        `json:"id"`
	Object  string        `json:"object"` // chat.completion.chunk
	Created int64         `json:"created"`
	Model   string        `json:"model"`
	Choices []ChunkChoice `json:"choices"`
	Usage   *Usage        `json:"usage,omitempty"`
}

// ChunkChoice is a choice's piece in a chunk: the delta to append, and the
// finish reason in the choice's last chunk (null before).
type ChunkChoice struct {
	Index        int       `json:"index"`
	Delta        Message   `json:"delta"`
	FinishReason *string   `json:"finish_reason"`
	Logprobs     *struct{} `json:"logprobs"`
}

// StreamedChunk is one event of a streamed completion as a client reads
// it: a chunk, or in its place an error object (a stream that failed
// after it started; its data is an ErrorBody).
type StreamedChunk struct {
	ChatCompletionChunk
	// Error is the event's "error" member as sent (null included), nil
	// when it has none.
	Error jsontext.Value `json:"error,omitempty"`
}
