package openaiwire

// ResponseEvent is one server-sent event of a streamed response, sent as
// "event: <Type>" and "data: {...}". SequenceNumber increases by one from
// 0 over the stream. Which other members an event has depends on its
// type:
//   - response.created, response.in_progress, response.completed,
//     response.failed: Response (the snapshot);
//   - response.output_item.added, .done: OutputIndex, Item;
//   - response.content_part.added, .done: ItemID, OutputIndex,
//     ContentIndex, Part;
//   - response.output_text.delta: ... Delta; .done: ... Text;
//   - response.function_call_arguments.delta: ItemID, OutputIndex, Delta;
//     .done: ... Arguments, Name;
//   - error: Code, Message, Param, and the same again as Error, the shape
//     the SDKs' generic stream readers raise from.
type ResponseEvent struct {
	Type           string       `json:"type"`
	SequenceNumber int64        `json:"sequence_number"`
	Response       *Response    `json:"response,omitempty"`
	OutputIndex    *int         `json:"output_index,omitempty"`
	ContentIndex   *int         `json:"content_index,omitempty"`
	ItemID         string       `json:"item_id,omitempty"`
	Item           *OutputItem  `json:"item,omitempty"`
	Part           *OutputText  `json:"part,omitempty"`
	Delta          *string      `json:"delta,omitempty"`
	Text           *string      `json:"text,omitempty"`
	Arguments      *string      `json:"arguments,omitempty"`
	Name           string       `json:"name,omitempty"`
	Logprobs       []any        `json:"logprobs,omitzero"`
	Code           string       `json:"code,omitempty"`
	Message        string       `json:"message,omitempty"`
	Param          *string      `json:"param,omitempty"`
	Error          *ErrorObject `json:"error,omitempty"`
}

// The event types of a streamed response.
const (
	EventResponseCreated    = "response.created"
	EventResponseInProgress = "response.in_progress"
	EventResponseCompleted  = "response.completed"
	EventResponseFailed     = "response.failed"
	EventOutputItemAdded    = "response.output_item.added"
	EventOutputItemDone     = "response.output_item.done"
	EventContentPartAdded   = "response.content_part.added"
	EventContentPartDone    = "response.content_part.done"
	EventOutputTextDelta    = "response.output_text.delta"
	EventOutputTextDone     = "response.output_text.done"
	EventFunctionArgsDelta  = "response.function_call_arguments.delta"
	EventFunctionArgsDone   = "response.function_call_arguments.done"
	EventError              = "error"
)
