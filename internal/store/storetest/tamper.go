package storetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
)

// Exec runs SQL directly against a backend's database, behind the store's
// back, as an attacker with write access would. Placeholders are $1, $2, ...
type Exec func(t *testing.T, query string, args ...any)

func testKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// TestAuditTamper writes a log of ten events through audit.Log, tampers with
// the stored rows and checks that Verify names the first bad event.
func TestAuditTamper(t *testing.T, open func(t *testing.T) (audit.Store, Exec)) {
	ctx := context.Background()
	const chainID = "c1"
	// forged is an event a forger inserts at seq 3, chained correctly onto seq 2.
	forged := func(t *testing.T, s audit.Store) audit.Event {
		var prev string
		_ = s.Scan(ctx, time.Time{}, func(e audit.Event) error {
			if e.Seq == 2 {
				prev = e.Hash
			}
			return nil
		})
		e := audit.Event{ChainID: chainID, Seq: 3, PrevHash: prev, Time: time.Now().UTC(), Type: audit.TypeToolDecided,
			Subject: "mallory", Decision: audit.Allow}
		var err error
		if e.Hash, err = audit.ComputeHash(e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	tests := []struct {
		name       string
		tamper     func(t *testing.T, s audit.Store, exec Exec)
		checkpoint bool // verify with the checkpoint exported before tampering
		export     bool // verify with the events exported before tampering, as anchors
		wantSeq    int64
		wantReason string
		alsoSeq    int64 // a later problem that must be reported too
		alsoReason string
	}{
		{name: "untouched"},
		{name: "untouched with checkpoint", checkpoint: true},
		{name: "edited body", wantSeq: 4, wantReason: "edited", tamper: func(t *testing.T, _ audit.Store, exec Exec) {
			exec(t, `UPDATE audit_events SET body = replace(body, 'reason-4', 'reason-X') WHERE chain_id = $1 AND seq = 4`, chainID)
		}},
		{name: "edited column", wantSeq: 5, wantReason: "edited", tamper: func(t *testing.T, _ audit.Store, exec Exec) {
			exec(t, `UPDATE audit_events SET decision = 'allow' WHERE chain_id = $1 AND seq = 5`, chainID)
		}},
		// The trace id column is read over the body, like the other columns.
		{name: "edited trace id column", wantSeq: 6, wantReason: "edited", tamper: func(t *testing.T, _ audit.Store, exec Exec) {
			exec(t, `UPDATE audit_events SET trace_id = $2 WHERE chain_id = $1 AND seq = 6`, chainID, strings.Repeat("e", 32))
		}},
		{name: "trace id column cleared", wantSeq: 4, wantReason: "edited", tamper: func(t *testing.T, _ audit.Store, exec Exec) {
			exec(t, `UPDATE audit_events SET trace_id = NULL WHERE chain_id = $1 AND seq = 4`, chainID)
		}},
		{name: "deleted", wantSeq: 6, wantReason: "deleted", tamper: func(t *testing.T, _ audit.Store, exec Exec) {
			exec(t, `DELETE FROM audit_events WHERE chain_id = $1 AND seq = 6`, chainID)
		}},
		// One break must not hide a later one.
		{name: "deleted, and a later event edited", wantSeq: 3, wantReason: "deleted", alsoSeq: 8, alsoReason: "edited",
			tamper: func(t *testing.T, _ audit.Store, exec Exec) {
				exec(t, `DELETE FROM audit_events WHERE chain_id = $1 AND seq = 3`, chainID)
				exec(t, `UPDATE audit_events SET decision = 'allow' WHERE chain_id = $1 AND seq = 8`, chainID)
			}},
		{name: "deleted, and the next event edited", wantSeq: 3, wantReason: "deleted", alsoSeq: 4, alsoReason: "edited",
			tamper: func(t *testing.T, _ audit.Store, exec Exec) {
				exec(t, `DELETE FROM audit_events WHERE chain_id = $1 AND seq = 3`, chainID)
				exec(t, `UPDATE audit_events SET decision = 'allow' WHERE chain_id = $1 AND seq = 4`, chainID)
			}},
		{name: "deleted first", wantSeq: 1, wantReason: "deleted", tamper: func(t *testing.T, _ audit.Store, exec Exec) {
			exec(t, `DELETE FROM audit_events WHERE chain_id = $1 AND seq = 1`, chainID)
		}},
		{name: "inserted", wantSeq: 4, wantReason: "inserted", tamper: func(t *testing.T, s audit.Store, exec Exec) {
			f := forged(t, s)
			// Two steps keep (chain_id, seq) unique at every row update.
			exec(t, `UPDATE audit_events SET seq = seq + 1000 WHERE chain_id = $1 AND seq >= 3`, chainID)
			exec(t, `UPDATE audit_events SET seq = seq - 999 WHERE chain_id = $1 AND seq >= 1000`, chainID)
			body, err := audit.EncodeCanonical(f)
			if err != nil {
				t.Fatal(err)
			}
			exec(t, `INSERT INTO audit_events (chain_id, seq, time_ns, type, subject, decision, prev_hash, hash, body)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, f.ChainID, f.Seq, f.Time.UnixNano(), f.Type, f.Subject,
				f.Decision, f.PrevHash, f.Hash, string(body))
		}},
		{name: "swapped", wantSeq: 3, wantReason: "reordered", tamper: func(t *testing.T, _ audit.Store, exec Exec) {
			exec(t, `UPDATE audit_events SET seq = -1 WHERE chain_id = $1 AND seq = 3`, chainID)
			exec(t, `UPDATE audit_events SET seq = 3 WHERE chain_id = $1 AND seq = 4`, chainID)
			exec(t, `UPDATE audit_events SET seq = 4 WHERE chain_id = $1 AND seq = -1`, chainID)
		}},
		{name: "tail cut, checkpoints deleted too", checkpoint: true, wantSeq: 9, wantReason: "tail cut off",
			tamper: func(t *testing.T, _ audit.Store, exec Exec) {
				exec(t, `DELETE FROM audit_events WHERE chain_id = $1 AND seq >= 9`, chainID)
				exec(t, `DELETE FROM audit_checkpoints`)
			}},
		// No checkpoint covers seq 9-10 (the writer died before signing);
		// an export taken before holds them.
		{name: "tail cut past the last checkpoint, export kept", export: true, wantSeq: 9, wantReason: "the exported copy holds seq 10",
			tamper: func(t *testing.T, _ audit.Store, exec Exec) {
				exec(t, `DELETE FROM audit_events WHERE chain_id = $1 AND seq >= 9`, chainID)
				exec(t, `DELETE FROM audit_checkpoints`)
			}},
		{name: "hash rewritten after the export", export: true, wantSeq: 5, wantReason: "edited", alsoSeq: 5, alsoReason: "exported copy",
			tamper: func(t *testing.T, s audit.Store, exec Exec) {
				exec(t, `UPDATE audit_events SET hash = $2 WHERE chain_id = $1 AND seq = 5`, chainID, strings.Repeat("f", 64))
			}},
		{name: "tail cut, stored checkpoint left", wantSeq: 9, wantReason: "tail cut off",
			tamper: func(t *testing.T, _ audit.Store, exec Exec) {
				exec(t, `DELETE FROM audit_events WHERE chain_id = $1 AND seq >= 9`, chainID)
			}},
		{name: "forged stored checkpoint", wantSeq: 10, wantReason: "signature", tamper: func(t *testing.T, _ audit.Store, exec Exec) {
			exec(t, `UPDATE audit_checkpoints SET hash = $1`, audit.GenesisHash)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, exec := open(t)
			key := testKey(t)
			l, err := audit.New(audit.Config{Store: s, ChainID: chainID, CheckpointKey: key, CheckpointEvery: 1000})
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i <= 10; i++ {
				e := audit.Event{Type: audit.TypeToolDecided, Subject: fmt.Sprintf("user-%d", i), Decision: audit.Deny,
					Reason: fmt.Sprintf("reason-%d", i)}
				if i%2 == 0 {
					e.TraceID = fmt.Sprintf("%032x", i)
				}
				if err := l.Record(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Close(); err != nil { // writes the final checkpoint, at seq 10
				t.Fatal(err)
			}
			cps, err := s.Checkpoints(ctx)
			if err != nil || len(cps) != 1 || cps[0].Seq != 10 {
				t.Fatalf("Checkpoints = %+v, %v; want one at seq 10", cps, err)
			}
			var buf bytes.Buffer
			if err := audit.Export(ctx, &buf, s, time.Time{}); err != nil {
				t.Fatal(err)
			}
			_, exported, err := audit.ReadExport(&buf)
			if err != nil || len(exported) != 10 {
				t.Fatalf("ReadExport = %d anchors, %v; want 10", len(exported), err)
			}
			if tt.tamper != nil {
				tt.tamper(t, s, exec)
			}
			opts := audit.VerifyOptions{PublicKey: key.Public().(ed25519.PublicKey)}
			if tt.checkpoint {
				opts.Checkpoints = cps
			}
			if tt.export {
				opts.Anchors = exported
			}
			res, err := audit.Verify(ctx, s, opts)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if tt.wantSeq == 0 {
				if !res.OK || res.Err() != nil || res.Events != 10 || res.Chains[chainID].Hash != cps[0].Hash {
					t.Errorf("Verify = %+v; want ok, 10 events, head %s", res, cps[0].Hash)
				}
				return
			}
			if res.OK || res.FirstBad == nil {
				t.Fatalf("Verify = %+v; want a problem at seq %d", res, tt.wantSeq)
			}
			if got := *res.FirstBad; got.ChainID != chainID || got.Seq != tt.wantSeq || !strings.Contains(got.Reason, tt.wantReason) {
				t.Errorf("FirstBad = %+v; want chain %s seq %d reason containing %q", got, chainID, tt.wantSeq, tt.wantReason)
			}
			if err := res.Err(); err == nil || !strings.Contains(err.Error(), "seq") {
				t.Errorf("Err() = %v; want an error naming the event", err)
			}
			if tt.alsoSeq != 0 {
				found := false
				for _, p := range res.Problems {
					found = found || p.Seq == tt.alsoSeq && strings.Contains(p.Reason, tt.alsoReason)
				}
				if !found || res.ProblemCount != len(res.Problems) || !strings.Contains(res.Err().Error(), "more problems") {
					t.Errorf("Problems = %+v (count %d); want one at seq %d too, %q", res.Problems, res.ProblemCount, tt.alsoSeq, tt.alsoReason)
				}
			}
		})
	}
}
