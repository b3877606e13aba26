package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authn"
	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
)

// buildGatehouse builds this command into a temporary directory.
func buildGatehouse(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the crash test builds the binary and needs go on PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "gatehouse")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// No symbol tables: linking is most of the build's time.
	out, err := exec.CommandContext(ctx, goBin, "build", "-ldflags=-s -w", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is a gatehouse running as a child process.
type process struct {
	cmd    *exec.Cmd
	base   string
	stderr *syncBuffer
	exited chan struct{}
	err    error // set when exited is closed
}

func startProcess(t *testing.T, bin string, env []string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), stderr: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stderr = p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if after, ok := strings.CutPrefix(sc.Text(), "gatehouse listening on "); ok {
				listening <- strings.TrimSpace(after)
			}
		}
		io.Copy(io.Discard, stdout)
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	select {
	case p.base = <-listening:
		return p
	case <-p.exited:
		t.Fatalf("gatehouse exited on start: %v\n%s", p.err, p.stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("gatehouse did not start\n%s", p.stderr.String())
	}
	return nil
}

// wait waits, bounded, for the process to exit.
func (p *process) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(30 * time.Second):
		t.Fatalf("gatehouse did not exit\n%s", p.stderr.String())
		return nil
	}
}

// answer is what a load request got.
type answer struct {
	status     int
	requestID  string
	runID      string
	transportE error
}

var crashClient = &http.Client{Timeout: 20 * time.Second}

func postChat(base, key, message string) answer {
	body, _ := json.Marshal(map[string]string{"message": message})
	req, err := http.NewRequest("POST", base+"/v1/chat", strings.NewReader(string(body)))
	if err != nil {
		return answer{transportE: err}
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := crashClient.Do(req)
	if err != nil {
		return answer{transportE: err}
	}
	defer resp.Body.Close()
	var b struct {
		RunID string `json:"run_id"`
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		// The status line came, the body did not: the process died mid-answer.
		return answer{transportE: err}
	}
	_ = json.Unmarshal(raw, &b)
	return answer{status: resp.StatusCode, requestID: resp.Header.Get("X-Request-Id"), runID: b.RunID}
}

// TestCrash_KillDashNineMidLoadLosesNoAnsweredRun runs the real binary under
// concurrent chat load, kills it with SIGKILL mid-way, restarts it on the
// same data, and checks that `gatehouse audit verify` passes and that every
// request that got a 200 has its run.finished (and its whole trail) in the log.
func TestCrash_KillDashNineMidLoadLosesNoAnsweredRun(t *testing.T) {
	began := time.Now()
	bin := buildGatehouse(t)
	t.Logf("built in %v", time.Since(began).Round(time.Millisecond))
	g := &gateway{t: t, dir: t.TempDir(), keys: map[string]string{}, hashes: map[string]string{}}
	for _, u := range allUsers {
		k, h, err := authn.NewKey()
		if err != nil {
			t.Fatal(err)
		}
		g.keys[u], g.hashes[u] = k, h
	}
	g.upstream, g.upstreamURL = llmtest.Start(t, func(n int, req *llmtest.Request) llmtest.Reply {
		time.Sleep(2 * time.Millisecond) // keep runs in flight when the kill comes
		return callScript(n, req)
	})
	g.cfgPath = filepath.Join(g.dir, "gatehouse.yaml")
	g.writeConfig(g.renderConfig(allUsers, gwOptions{}))
	env := []string{"TEST_OPENAI_KEY=sk-test", "TEST_AUDIT_KEY=0123456789abcdef0123456789abcdef", "HOME=" + g.dir, "PATH=" + os.Getenv("PATH")}
	serve := func() *process {
		return startProcess(t, bin, env, "serve", "--config", g.cfgPath, "--addr", "127.0.0.1:0")
	}

	const workers, perWorker, killAfter = 8, 60, 150
	const message = `CALL claims_status {"claim_id":"CLM-1001"}`
	p := serve()
	began = time.Now()
	var (
		mu                         sync.Mutex
		answered                   []answer // the 200s
		others                     []answer // any other status
		okCount, transport, inKill atomic.Int64
		killOnce                   sync.Once
		killedAt                   = make(chan struct{})
	)
	kill := func() {
		killOnce.Do(func() {
			if err := syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
				t.Errorf("kill: %v", err)
			}
			close(killedAt)
		})
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := g.keys[[]string{"agent", "admin", "customer"}[w%3]]
			for range perWorker {
				a := postChat(p.base, key, message)
				switch {
				case a.transportE != nil:
					transport.Add(1)
					return // the server is gone
				case a.status == 200:
					mu.Lock()
					answered = append(answered, a)
					mu.Unlock()
					if okCount.Add(1) == killAfter {
						kill()
					}
				default:
					mu.Lock()
					others = append(others, a)
					mu.Unlock()
				}
				select {
				case <-killedAt:
					inKill.Add(1)
				default:
				}
			}
		}()
	}
	wg.Wait()
	select {
	case <-killedAt:
	default:
		t.Fatalf("the load finished before the kill: %d answered, %d other statuses", len(answered), len(others))
	}
	werr := p.wait(t)
	t.Logf("load until the kill: %v", time.Since(began).Round(time.Millisecond))
	var ee *exec.ExitError
	if !errors.As(werr, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("gatehouse exit = %v, want killed by SIGKILL", werr)
	}
	if len(others) != 0 {
		t.Errorf("%d requests got neither 200 nor a broken connection, e.g. %d", len(others), others[0].status)
	}

	// Restart on the same data: the chain continues and serves again.
	p = serve()
	for range 3 {
		a := postChat(p.base, g.keys["agent"], message)
		if a.status != 200 {
			t.Fatalf("after restart: %d %v", a.status, a.transportE)
		}
		answered = append(answered, a)
	}
	if err := syscall.Kill(p.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(t); err != nil {
		t.Fatalf("gatehouse after SIGTERM: %v\n%s", err, p.stderr.String())
	}

	dsn := "sqlite://" + filepath.Join(g.dir, "audit.db")
	verified := regexp.MustCompile(`^ok: (\d+) events, head [0-9a-f]{64}\n$`)
	var events int
	for _, args := range [][]string{{"--dsn", dsn}, {"--config", g.cfgPath}} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, bin, append([]string{"audit", "verify"}, args...)...).CombinedOutput()
		cancel()
		m := verified.FindStringSubmatch(string(out))
		if err != nil || m == nil {
			t.Fatalf("audit verify %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		events, _ = strconv.Atoi(m[1])
		t.Logf("audit verify %s: %s", args[0], strings.TrimSpace(string(out)))
	}

	log := openAuditLog(t, dsn)
	all := log.all()
	if len(all) != events {
		t.Errorf("verify counted %d events, the store holds %d", events, len(all))
	}
	byRequest := map[string][]audit.Event{}
	finished := map[string]bool{}
	started := 0
	for _, e := range all {
		byRequest[e.RequestID] = append(byRequest[e.RequestID], e)
		switch e.Type {
		case audit.TypeRunStarted:
			started++
		case audit.TypeRunFinished:
			finished[e.RunID] = true
		}
	}
	want := []string{"authz.decided/allow", "run.started", "tool.decided/allow", "tool.finished ok", "run.finished ok"}
	for _, a := range answered {
		if a.runID == "" || !finished[a.runID] {
			t.Errorf("request %s got 200 for run %q, which has no run.finished", a.requestID, a.runID)
			continue
		}
		if diff := cmp.Diff(want, steps(byRequest[a.requestID])); diff != "" {
			t.Errorf("trail of request %s (-want +got):\n%s", a.requestID, diff)
		}
	}
	t.Logf("%d workers: %d answered 200 (%d after the kill was sent, %d after restart), %d broken connections; "+
		"%d events; %d runs started, %d finished, %d cut off by the kill",
		workers, len(answered), inKill.Load(), 3, transport.Load(), len(all), started, len(finished), started-len(finished))
	if len(answered) < killAfter {
		t.Errorf("only %d requests answered", len(answered))
	}
}
