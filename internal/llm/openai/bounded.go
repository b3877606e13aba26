package openai

import (
	"fmt"
	"io"
	"net/http"

	"github.com/openai/openai-go/v3/option"
)

// maxIdlePerHost keeps a connection per concurrent run to the one model
// host. The default transport keeps 2, so under load each model call beyond
// those opened, and then dropped, a fresh connection.
const maxIdlePerHost = 256

// pooledClient is the default transport with room to reuse connections.
func pooledClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = maxIdlePerHost
	t.MaxIdleConnsPerHost = maxIdlePerHost
	return &http.Client{Transport: t}
}

// MaxResponseBytes bounds a model response body, whole or streamed (the SDK
// reads a whole one at once, and a stream's content is assembled): a
// misbehaving or hostile OpenAI-compatible server cannot make gatehouse
// hold more than this per attempt.
const MaxResponseBytes = 16 << 20

// boundedClient is what the SDK sends with: hc with every response body
// cut off, as an error, past MaxResponseBytes. A client with nothing of
// its own but a transport (the default one) becomes that transport
// itself: http.Client.Do would copy every request's headers for
// redirects (a model API's answer is never followed elsewhere: a 3xx is
// an error status, and the API key stays with the host it was meant for)
// and wrap its context for a timeout it does not have (the SDK bounds
// each attempt with model.timeout).
func boundedClient(hc *http.Client) option.HTTPClient {
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	if hc.Jar == nil && hc.CheckRedirect == nil && hc.Timeout == 0 {
		return transportDoer{boundedTransport{next}}
	}
	c := *hc
	c.Transport = boundedTransport{next}
	return &c
}

// transportDoer sends a request with its transport alone.
type transportDoer struct{ rt http.RoundTripper }

func (d transportDoer) Do(req *http.Request) (*http.Response, error) { return d.rt.RoundTrip(req) }

type boundedTransport struct{ next http.RoundTripper }

func (t boundedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.next.RoundTrip(req)
	if err == nil && res.Body != nil {
		res.Body = &boundedBody{rc: res.Body, left: MaxResponseBytes}
	}
	return res, err
}

var errResponseTooLarge = fmt.Errorf("model response larger than %d bytes", MaxResponseBytes)

type boundedBody struct {
	rc   io.ReadCloser
	left int64
	err  error // once past the bound, every read says so
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.left <= 0 {
		// One byte more tells a body of exactly the limit from a longer one.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			b.err = errResponseTooLarge
			return 0, b.err
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *boundedBody) Close() error { return b.rc.Close() }
