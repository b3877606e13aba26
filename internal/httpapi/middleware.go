package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/chat"
	"github.com/gatehousehq/gatehouse/internal/ids"
)

// reqInfo is per-request state the logging middleware reports once the
// handler is done.
type reqInfo struct {
	// rt is the runtime the request started with, used to its end, and
	// chat the chat service of that runtime.
	rt         *Runtime
	chat       *chat.Service
	requestID  string
	subject    string
	authMethod string
	errCode    string
	// openAI: errors take OpenAI's shape (the /v1/models and
	// /v1/chat/completions routes), so the SDKs raise them readably.
	openAI bool

	// pending are audit events deferred so they share one durable write
	// with the next ones (a chat's decision rides with its run.started).
	// Every response flushes them first: a request's events are committed
	// before its response is sent.
	pending []audit.Event
	sink    audit.Sink

	// w is the request's response writer as the handlers get it (one
	// allocation with the rest of the request's state).
	w statusWriter
}

// defer queues ev to be recorded with the request's next durable write.
func (i *reqInfo) deferEvent(sink audit.Sink, ev audit.Event) {
	i.sink = sink
	i.pending = append(i.pending, ev)
}

// take hands the deferred events to whoever records next (the run).
func (i *reqInfo) take() []audit.Event {
	evs := i.pending
	i.pending = nil
	return evs
}

// flush makes the deferred events durable.
func (i *reqInfo) flush(ctx context.Context) error {
	evs := i.take()
	if len(evs) == 0 {
		return nil
	}
	return i.sink.Record(context.WithoutCancel(ctx), evs...)
}

type infoKey struct{}

// chat is the chat service of the runtime r started with.
func (s *Server) chat(r *http.Request) *chat.Service {
	if i, ok := r.Context().Value(infoKey{}).(*reqInfo); ok && i.chat != nil {
		return i.chat
	}
	return s.cur.Load().chat
}

// runtime is the runtime r started with.
func (s *Server) runtime(r *http.Request) *Runtime {
	if i, ok := r.Context().Value(infoKey{}).(*reqInfo); ok && i.rt != nil {
		return i.rt
	}
	return s.Runtime()
}

func infoFrom(ctx context.Context) *reqInfo {
	if i, ok := ctx.Value(infoKey{}).(*reqInfo); ok {
		return i
	}
	return &reqInfo{}
}

// errRequestTimeout is the cause of a request context that ran out of time.
var errRequestTimeout = errors.New("request timed out")

func newID(prefix string) string { return ids.New(prefix) }

// setBaseHeaders sets the headers of every answer: the request id and the
// security headers. Their values share one array made per request (five
// Sets made five); each is a slice of its own capacity, so adding to one
// header never writes into the next.
func setBaseHeaders(h http.Header, requestID string) {
	v := [...]string{requestID, "nosniff", "no-store", "default-src 'none'; frame-ancestors 'none'", "no-referrer"}
	vals := v[:]
	h["X-Request-Id"] = vals[0:1:1]
	h["X-Content-Type-Options"] = vals[1:2:2]
	h["Cache-Control"] = vals[2:3:3]
	h["Content-Security-Policy"] = vals[3:4:4]
	h["Referrer-Policy"] = vals[4:5:5]
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// base wraps every route: request id, security headers, panic recovery,
// body limit, request timeout and one log line per request.
func (s *Server) base(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		l := s.acquire()
		defer l.release()
		rt := l.rt
		info := &reqInfo{rt: rt, chat: l.chat, requestID: newID("req_")}
		setBaseHeaders(w.Header(), info.requestID)
		sw := &info.w
		sw.ResponseWriter = w
		ctx, span := s.startSpan(r, info.requestID)
		// The answer may be written until the request timeout of this
		// request's config (a reload may have raised it past the listener's
		// WriteTimeout), plus time to send it.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(rt.RequestTimeout + 10*time.Second))
		ctx, cancel := context.WithTimeoutCause(ctx, rt.RequestTimeout, errRequestTimeout)
		defer cancel()
		ctx = context.WithValue(ctx, infoKey{}, info)
		r = r.WithContext(ctx)
		if r.Body != nil {
			r.Body = http.MaxBytesReader(sw, r.Body, rt.MaxBodyBytes)
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(ctx, "panic", "request_id", info.requestID, "panic", v, "stack", string(debug.Stack()))
				if sw.status == 0 {
					writeError(sw, r, errInternal)
				}
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			if s.log.Enabled(ctx, slog.LevelInfo) {
				s.log.LogAttrs(ctx, slog.LevelInfo, "request",
					slog.String("request_id", info.requestID),
					slog.String("subject", info.subject),
					slog.String("auth_method", info.authMethod),
					slog.String("method", r.Method),
					slog.String("route", r.Pattern),
					slog.Int("status", status),
					slog.String("error", info.errCode),
					slog.Float64("latency_ms", float64(time.Since(start).Microseconds())/1000),
				)
			}
			if s.Metrics != nil {
				s.Metrics.Request(r.Pattern, status, time.Since(start))
			}
			endSpan(span, r, info, status)
		}()
		next.ServeHTTP(sw, r)
	})
}
