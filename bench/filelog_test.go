package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/audit"
)

// TestFileLog_HoldsTheChainInPreallocatedSpace checks that G-filelog does
// the work a durable store must: every event's canonical encoding, chained,
// in the file — written into space filled ahead (the size only changes when
// a chunk runs out).
func TestFileLog_HoldsTheChainInPreallocatedSpace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.filelog")
	const chunk = 4096
	st, err := openFileLog(path, chunk)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l, err := audit.New(audit.Config{Store: st, ChainID: "main", ContentMode: audit.ContentHMAC, HMACKey: []byte(auditKey)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := l.Record(ctx, audit.Event{Type: audit.TypeRunStarted, Subject: "customer"}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Size() != chunk {
		t.Fatalf("size after the first commit = %d, want the preallocated %d", fi.Size(), chunk)
	}
	// Enough events to outgrow the first chunk.
	const n = 40
	for i := 1; i < n; i++ {
		if err := l.Record(ctx, audit.Event{Type: audit.TypeToolDecided, Subject: "customer", Decision: "allow",
			Content: map[string]string{"arguments": `{"customer_id":"C-100"}`}}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	head, ok, err := st.Head(ctx, "main")
	if err != nil || !ok || head.Seq != n {
		t.Fatalf("Head = seq %d, %v, %v; want %d", head.Seq, ok, err, n)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data)%chunk != 0 || len(data) <= chunk {
		t.Fatalf("file size %d: want it grown by whole chunks of %d", len(data), chunk)
	}
	lines := bytes.Split(bytes.TrimRight(data, "\x00"), []byte("\n"))
	lines = lines[:len(lines)-1] // after the last newline
	if len(lines) != n {
		t.Fatalf("%d lines, want %d", len(lines), n)
	}
	prev := audit.GenesisHash
	for i, line := range lines {
		var e struct {
			Seq      int64             `json:"seq"`
			PrevHash string            `json:"prev_hash"`
			Content  map[string]string `json:"content"`
		}
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if e.Seq != int64(i+1) || e.PrevHash != prev {
			t.Fatalf("line %d: seq %d prev %s, want seq %d prev %s", i+1, e.Seq, e.PrevHash, i+1, prev)
		}
		if v := e.Content["arguments"]; v != "" && v != audit.HashValue([]byte(auditKey), `{"customer_id":"C-100"}`) {
			t.Fatalf("line %d: content %q is not the HMAC", i+1, v)
		}
		sum := sha256.Sum256(append([]byte(prev+"\n"), line...))
		prev = hex.EncodeToString(sum[:])
	}
	if prev != head.Hash {
		t.Fatalf("chain over the file ends at %s, head is %s", prev, head.Hash)
	}
}
