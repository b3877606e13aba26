package openaiwire

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
