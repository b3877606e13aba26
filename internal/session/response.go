package session

import (
	"context"
	"time"

	"github.com/gatehousehq/gatehouse/internal/ids"
)

// StoredResponse is an answer of POST /v1/responses kept (store: true) for
// its owner: GET /v1/responses/{id} returns Body, and a later request's
// previous_response_id continues Messages.
type StoredResponse struct {
	ID    string
	Owner string // principal.Key of the caller
	Model string
	// Messages are the conversation up to and including this response's
	// output, in the model's terms, bounded by the sessions' Limits.
	Messages []Message
	// Body is the response object as answered (JSON).
	Body    []byte
	Created time.Time
}

// ResponseStore keeps stored responses. Every read and delete is scoped to
// the owner: another caller's id is ErrNotFound and changes nothing.
type ResponseStore interface {
	// PutResponse stores a new response; its id is unique.
	PutResponse(ctx context.Context, r *StoredResponse) error
	// GetResponse returns owner's response id, else ErrNotFound.
	GetResponse(ctx context.Context, id, owner string) (*StoredResponse, error)
	// DeleteResponse deletes owner's response id, else ErrNotFound. Of
	// concurrent deletes, one succeeds and the others get ErrNotFound.
	DeleteResponse(ctx context.Context, id, owner string) error
}

// responsePrefix starts every response id.
const responsePrefix = "resp_"

// NewResponseID returns a new random response id.
func NewResponseID() string { return ids.New(responsePrefix) }

// ValidResponseID reports whether id has the shape NewResponseID gives.
func ValidResponseID(id string) bool { return ids.Valid(responsePrefix, id) }
