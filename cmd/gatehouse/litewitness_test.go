package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// The witness the tests run is filippo.io/torchwood's litewitness, a real
// C2SP tlog-witness implementation, built from the Go module proxy (never
// vendored here). v0.6.1 is the last version that builds with our Go.
const torchwood = "filippo.io/torchwood"
const torchwoodVersion = "v0.6.1"

var (
	witnessBinOnce sync.Once
	witnessBinDir  string
	witnessBinErr  error
)

// witnessBinaries installs litewitness and witnessctl once per test binary.
func witnessBinaries(t *testing.T) string {
	t.Helper()
	witnessBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "litewitness-bin")
		if err != nil {
			witnessBinErr = err
			return
		}
		cmd := exec.Command("go", "install",
			torchwood+"/cmd/litewitness@"+torchwoodVersion, torchwood+"/cmd/witnessctl@"+torchwoodVersion)
		cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=", "GOWORK=off")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			witnessBinErr = fmt.Errorf("go install litewitness: %v\n%s", err, out)
			return
		}
		witnessBinDir = dir
	})
	if witnessBinErr != nil {
		t.Fatal(witnessBinErr)
	}
	return witnessBinDir
}

// liteWitness is a litewitness process on a loopback port, with its
// database and its key in an ssh-agent served by the test.
type liteWitness struct {
	t      *testing.T
	bin    string
	dir    string
	sock   string
	port   string
	name   string
	keyFP  string
	URL    string
	VKey   string // its cosignature verifier key, as it prints it
	cmd    *exec.Cmd
	stderr *syncBuffer
}

// startLiteWitness runs a witness that knows the log origin with the
// log's note verifier key logKey.
func startLiteWitness(t *testing.T, name, origin, logKey string) *liteWitness {
	t.Helper()
	bin := witnessBinaries(t)
	dir, err := os.MkdirTemp("", "lw") // short: a unix socket path is at most 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	w := &liteWitness{t: t, bin: bin, dir: dir, sock: filepath.Join(dir, "agent"), name: name}
	w.serveAgent()
	db := filepath.Join(dir, "witness.db")
	for _, args := range [][]string{
		{"add-log", "-db", db, "-origin", origin},
		{"add-key", "-db", db, "-origin", origin, "-key", logKey},
	} {
		if out, err := exec.Command(filepath.Join(bin, "witnessctl"), args...).CombinedOutput(); err != nil {
			t.Fatalf("witnessctl %v: %v\n%s", args, err, out)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w.port = fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	w.URL = "http://127.0.0.1:" + w.port
	w.Start()
	t.Cleanup(w.Stop)
	return w
}

// serveAgent serves an ssh-agent holding a fresh Ed25519 witness key.
func (w *liteWitness) serveAgent() {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		w.t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		w.t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		w.t.Fatal(err)
	}
	w.keyFP = ssh.FingerprintSHA256(pub)
	ln, err := net.Listen("unix", w.sock)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _ = agent.ServeAgent(keyring, c) }()
		}
	}()
}

var vkeyLine = regexp.MustCompile(`vkey=(\S+)`)

// Start runs litewitness (again, on the same port and database) and waits
// until it answers.
func (w *liteWitness) Start() {
	w.t.Helper()
	w.stderr = &syncBuffer{}
	w.cmd = exec.Command(filepath.Join(w.bin, "litewitness"), "-name", w.name, "-db", filepath.Join(w.dir, "witness.db"),
		"-ssh-agent", w.sock, "-key", w.keyFP, "-listen", "127.0.0.1:"+w.port)
	w.cmd.Stderr = w.stderr
	if err := w.cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := vkeyLine.FindStringSubmatch(w.stderr.String()); m != nil {
			w.VKey = m[1]
		}
		if c, err := net.Dial("tcp", "127.0.0.1:"+w.port); err == nil && w.VKey != "" {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond) // polling a child process's port
	}
	w.t.Fatalf("litewitness did not start:\n%s", w.stderr.String())
}

// Stop kills litewitness and waits for it to exit.
func (w *liteWitness) Stop() {
	if w.cmd == nil || w.cmd.Process == nil {
		return
	}
	_ = w.cmd.Process.Kill()
	_ = w.cmd.Wait()
	w.cmd = nil
}
