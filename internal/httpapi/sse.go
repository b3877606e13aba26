package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// sseWriteTimeout bounds one event's write: a client that stops reading
// cannot hold a run, its model stream and its slot for ever.
const sseWriteTimeout = 15 * time.Second

// sse writes server-sent events. Headers go out with the first event, so an
// error found before anything was sent is still an ordinary error response.
type sse struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
	// err is the first write error: the client is gone or too slow.
	err error
}

func newSSE(w http.ResponseWriter) *sse {
	return &sse{w: w, rc: http.NewResponseController(w)}
}

var errClientGone = errors.New("the client stopped reading the stream")

// data sends one "data:" event holding v as JSON and flushes it.
func (s *sse) data(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.raw(b)
}

// named sends an event with an event name (the /v1/chat run stream).
func (s *sse) named(event string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.write("event: " + event + "\ndata: " + string(b) + "\n\n")
}

func (s *sse) raw(b []byte) error { return s.write("data: " + string(b) + "\n\n") }

// done sends the closing "data: [DONE]".
func (s *sse) done() error { return s.write("data: [DONE]\n\n") }

func (s *sse) write(chunk string) error {
	if s.err != nil {
		return s.err
	}
	if !s.started {
		s.started = true
		h := s.w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("X-Accel-Buffering", "no") // proxies must not hold the stream
		s.w.WriteHeader(http.StatusOK)
	}
	_ = s.rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
	if _, err := s.w.Write([]byte(chunk)); err != nil {
		s.err = errClientGone
		return s.err
	}
	if err := s.rc.Flush(); err != nil {
		s.err = errClientGone
		return s.err
	}
	return nil
}
