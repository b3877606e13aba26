package client

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/mcp/mcptest"
)

// slowServer is a streamable HTTP MCP server that answers nothing until
// release is called (or the request ends).
func slowServer(t *testing.T) (url string, release func()) {
	t.Helper()
	return mcptest.Slow(t, newTestServer("echoes its text"))
}

// waitStarted fails t unless src's Started closes within d.
func waitStarted(t *testing.T, src *Source, d time.Duration) {
	t.Helper()
	select {
	case <-src.Started():
	case <-time.After(d):
		t.Fatalf("Started not closed after %v: %+v", d, src.Status())
	}
}

func TestSource_StartedWaitsForTheFirstConnectionAttempt(t *testing.T) {
	url, release := slowServer(t)
	src, _ := started(t, Config{Name: "slow", URL: url, CallTimeout: 10 * time.Second}, Decl{Name: "e", Remote: "echo"})
	select {
	case <-src.Started():
		t.Fatalf("started before the server answered: %+v", src.Status())
	default:
	}
	if st := src.Status(); !st.Starting || st.Up {
		t.Errorf("status while connecting = %+v", st)
	}
	release()
	waitStarted(t, src, 10*time.Second)
	if st := src.Status(); st.Starting || !st.Up || st.Tools != 2 {
		t.Errorf("status after the first listing = %+v", st)
	}
}

func TestSource_StartedWhenTheFirstAttemptFails(t *testing.T) {
	hs := httptest.NewServer(http.NotFoundHandler())
	url := hs.URL
	hs.Close() // nothing listens there now
	src, _ := started(t, Config{Name: "gone", URL: url, CallTimeout: 10 * time.Second, RestartMin: time.Hour}, Decl{Name: "e", Remote: "echo"})
	waitStarted(t, src, 10*time.Second)
	if st := src.Status(); st.Starting || st.Up || st.Error == "" {
		t.Errorf("status after a failed first attempt = %+v", st)
	}
}

func TestSource_StartedAfterStartTimeoutWhenTheServerNeverAnswers(t *testing.T) {
	url, _ := slowServer(t)
	src, _ := started(t, Config{Name: "stuck", URL: url, CallTimeout: time.Hour, StartTimeout: 100 * time.Millisecond}, Decl{Name: "e", Remote: "echo"})
	waitStarted(t, src, 10*time.Second)
	if st := src.Status(); st.Starting || st.Up {
		t.Errorf("status after the start timeout = %+v", st)
	}
}

func TestSource_StartedWhenClosedBeforeTheFirstAttemptEnds(t *testing.T) {
	url, _ := slowServer(t)
	src, err := New(Config{Name: "closed", URL: url, CallTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	src.Start(nil)
	src.Close()
	waitStarted(t, src, time.Second)
}
