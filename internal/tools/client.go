package tools

import (
	"context"
	"errors"
)

// Client is a tool that runs on the client (type: client): gatehouse
// offers it to the model and authorizes each proposed call, but never runs
// it; the governed pass-through releases the call to the client instead.
type Client struct{ spec Spec }

// NewClient returns a client tool with spec.
func NewClient(spec Spec) *Client { return &Client{spec: spec} }

// Spec returns the declared spec.
func (c *Client) Spec() Spec { return c.spec }

// ErrClientTool is what calling a client tool on the server returns.
var ErrClientTool = errors.New("a client tool runs on the client, not in gatehouse")

// Call refuses: a client tool never runs here.
func (c *Client) Call(context.Context, Args) (any, error) { return nil, ErrClientTool }
