package httptool

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/telemetry"
	"github.com/gatehousehq/gatehouse/internal/tools"
)

// Error is a failed call. Its message is safe to show the model; the cause,
// when there is one, is kept for errors.Is and errors.As.
type Error struct {
	Msg string
	Err error
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// ErrNoPrincipal is returned when Call runs without a verified caller in ctx.
var ErrNoPrincipal = errors.New("no verified caller")

// Call sends one request. args must come from the tool's schema (see
// schema.Decode). The result is the JSON body as a json.RawMessage, or any
// other body as a string.
func (t *Tool) Call(ctx context.Context, args tools.Args) (any, error) {
	p := principal.From(ctx)
	if p == nil || p.Subject == "" {
		return nil, &Error{Msg: t.spec.Name + ": " + ErrNoPrincipal.Error(), Err: ErrNoPrincipal}
	}
	req, err := t.request(ctx, args)
	if err != nil {
		return nil, &Error{Msg: fmt.Sprintf("%s: invalid arguments: %v", t.spec.Name, err), Err: err}
	}
	req.Header.Set(SubjectHeader, p.Subject)
	req.Header.Set(AuthMethodHeader, string(p.Method))
	if p.Issuer != "" {
		req.Header.Set(IssuerHeader, p.Issuer)
	}
	if t.cred != nil {
		tok, err := t.cred.Bearer(ctx)
		if err != nil {
			// Fail closed: without its credential the call is not sent.
			return nil, &Error{Msg: t.spec.Name + ": no credential for this call; it was not sent", Err: err}
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	// The upstream joins the run's trace; traceparent is set after the
	// configured headers, so a config cannot forge it.
	telemetry.Inject(ctx, req.Header)
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	resp, err := t.client.Do(req.WithContext(ctx))
	if err != nil {
		// url.Error would repeat the URL; the message stays generic.
		msg := "request failed"
		if errors.Is(err, context.DeadlineExceeded) {
			msg = "timed out after " + t.timeout.String()
		} else if errors.Is(err, context.Canceled) {
			msg = "cancelled"
		}
		return nil, &Error{Msg: t.spec.Name + ": " + msg, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, t.maxBytes))
		msg := fmt.Sprintf("%s: upstream returned status %d", t.spec.Name, resp.StatusCode)
		if resp.StatusCode < 400 {
			msg += " (redirects are not followed)"
		}
		return nil, &Error{Msg: msg}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, t.maxBytes+1))
	if err != nil {
		msg := "reading the response failed"
		if errors.Is(err, context.DeadlineExceeded) {
			msg = "timed out after " + t.timeout.String()
		}
		return nil, &Error{Msg: t.spec.Name + ": " + msg, Err: err}
	}
	if int64(len(body)) > t.maxBytes {
		return nil, &Error{Msg: fmt.Sprintf("%s: response larger than %d bytes", t.spec.Name, t.maxBytes)}
	}
	if isJSON(resp.Header.Get("Content-Type")) && json.Valid(body) {
		return json.RawMessage(body), nil
	}
	if !utf8.Valid(body) {
		return strings.ToValidUTF8(string(body), "\uFFFD"), nil
	}
	return string(body), nil
}

func (t *Tool) request(ctx context.Context, args tools.Args) (*http.Request, error) {
	u, err := t.tmpl.fill(args)
	if err != nil {
		return nil, err
	}
	var body io.Reader
	sendBody := slices.Contains(bodyMethods, t.method)
	if sendBody {
		rest := make(map[string]any, len(t.extra))
		for _, name := range t.extra {
			if v, ok := args[name]; ok {
				rest[name] = v
			}
		}
		b, err := json.Marshal(rest)
		if err != nil {
			return nil, fmt.Errorf("encode body: %w", err)
		}
		body = bytes.NewReader(b)
	} else if err := t.addQuery(u, args); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, t.method, u.String(), body)
	if err != nil {
		return nil, errors.New("build request")
	}
	req.Header = t.headers.Clone()
	if sendBody {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// addQuery appends the arguments not in the template as query values.
func (t *Tool) addQuery(u *url.URL, args tools.Args) error {
	if len(t.extra) == 0 {
		return nil
	}
	q := url.Values{}
	for _, name := range t.extra {
		v, ok := args[name]
		if !ok {
			continue
		}
		items, isList := v.([]any)
		if !isList {
			items = []any{v}
		}
		for _, item := range items {
			s, err := queryValue(item)
			if err != nil {
				return fmt.Errorf("argument %s: %w", name, err)
			}
			q.Add(name, s)
		}
	}
	if enc := q.Encode(); enc != "" {
		if u.RawQuery != "" {
			u.RawQuery += "&"
		}
		u.RawQuery += enc
	}
	return nil
}

func queryValue(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(v), nil
	}
	return "", fmt.Errorf("cannot be sent as a query value")
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}
