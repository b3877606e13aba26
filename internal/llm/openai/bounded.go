package openai

import (
	"fmt"
	"io"
	"net/http"
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

// boundedClient is hc with every response body cut off, as an error, past
// MaxResponseBytes.
func boundedClient(hc *http.Client) *http.Client {
	c := *hc
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = boundedTransport{next}
	return &c
}

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
