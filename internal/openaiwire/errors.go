package openaiwire

// ErrorBody is an error answer: the body of an error status, or one event
// of a stream that failed after it started.
type ErrorBody struct {
	Error ErrorObject `json:"error"`
}

// ErrorObject is OpenAI's error object.
type ErrorObject struct {
	Message string  `json:"message"`
	Type    string  `json:"type"` // invalid_request_error, authentication_error, ..., server_error
	Code    string  `json:"code,omitempty"`
	Param   *string `json:"param"`
}
