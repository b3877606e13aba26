package httpapi

import (
	"net/http"

	"github.com/gatehousehq/gatehouse/internal/openaiwire"
)

func openAIErrorBody(ae *apiError) openaiwire.ErrorBody {
	e := openaiwire.ErrorObject{Message: boundDetail(ae.Detail), Type: openAIErrorType(ae.Status), Code: ae.Code}
	if ae.Param != "" {
		p := ae.Param
		e.Param = &p
	}
	return openaiwire.ErrorBody{Error: e}
}

// openAIErrorType is the error type OpenAI gives a status.
func openAIErrorType(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	}
	if status >= 500 {
		return "server_error"
	}
	return "invalid_request_error"
}

// openAIRoute marks a route's errors as OpenAI-shaped, authentication
// failures included.
func openAIRoute(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		infoFrom(r.Context()).openAI = true
		h.ServeHTTP(w, r)
	})
}
