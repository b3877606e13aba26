package tools

import "context"

// Call is what a tool may know of the call it runs for, besides its
// arguments: enough to bind a credential to this exact call.
type Call struct {
	// ID is unique to this call (its run id and the call's id within the
	// run); a call token's jti.
	ID    string
	RunID string
	Tool  string
	// Actor is who made the call for the caller: "agent:<name>" for an
	// agent's run, "client:<subject>" for a call the caller made itself.
	Actor string
	// ArgsSHA256 is the hex SHA-256 of the canonical arguments the gate
	// allowed (the same as an approval's).
	ArgsSHA256 string
}

type callKey struct{}

// WithCall returns ctx carrying c.
func WithCall(ctx context.Context, c Call) context.Context {
	return context.WithValue(ctx, callKey{}, c)
}

// CallFrom returns the call ctx carries, if any.
func CallFrom(ctx context.Context) (Call, bool) {
	c, ok := ctx.Value(callKey{}).(Call)
	return c, ok
}
