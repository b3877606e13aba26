// Package openaiwire owns the JSON of the OpenAI Chat Completions protocol,
// in both directions: the request a client sends and a model server
// receives, the whole completion and the streamed chunks it answers with,
// the error object, and the model list; and of the Responses API
// (responses*.go): its request and input items, the response object and
// its output items, and its stream events. The API (internal/httpapi), the
// model client (internal/llm/openai), the scripted upstream of the tests
// (internal/llm/llmtest) and the load harness (bench) all speak it through
// these types, so the copies cannot drift apart.
//
// Incoming requests are decoded by DecodeChatRequest, strictly: a member
// named twice, a member not of the protocol (a case variant such as
// "Model" included), invalid UTF-8 or a value of the wrong type is refused
// with an *Error naming the member. A model server's answers are decoded by
// DecodeChatCompletion and DecodeChunk (DecodeStreamedChunk also reads an
// error event in a chunk's place), which ignore members they do not read
// (servers add their own) but still refuse a member named twice.
//
// The types are plain structs encoded by either encoding/json or
// github.com/go-json-experiment/json: their tags mean the same to both.
// DecodeResponsesRequest decodes a Responses request as strictly; an
// item's members that are not the protocol's are skipped (the Agents SDK
// spreads its provider data into items), but a case variant of one is
// refused.
package openaiwire
