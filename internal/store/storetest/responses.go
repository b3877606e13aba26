package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/session"
)

// TestResponseStore runs the stored-response contract against stores from
// open, each of which must be fresh and empty.
func TestResponseStore(t *testing.T, open func(t *testing.T) session.ResponseStore) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	resp := func(owner string) *session.StoredResponse {
		return &session.StoredResponse{ID: session.NewResponseID(), Owner: owner, Model: "gpt-test", Created: t0,
			Messages: []session.Message{{Role: "user", Content: "hi", Time: t0},
				{Role: "assistant", ToolCalls: []session.ToolCall{{ID: "call_1", Name: "send_email", Arguments: `{"to":"a"}`}}, Time: t0}},
			Body: []byte(`{"id":"x","object":"response"}`)}
	}

	t.Run("OnlyTheOwnerReadsIt", func(t *testing.T) {
		s := open(t)
		r := resp("alice")
		if err := s.PutResponse(ctx, r); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetResponse(ctx, r.ID, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(r, got); diff != "" {
			t.Errorf("GetResponse (-put +got):\n%s", diff)
		}
		if _, err := s.GetResponse(ctx, r.ID, "mallory"); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("another owner's read: %v, want ErrNotFound", err)
		}
		if err := s.PutResponse(ctx, &session.StoredResponse{ID: r.ID, Owner: "mallory", Body: []byte("{}")}); err == nil {
			t.Error("storing a taken id for another owner succeeded")
		}
	})

	t.Run("DeleteOnceAndOnlyByTheOwner", func(t *testing.T) {
		s := open(t)
		r := resp("alice")
		if err := s.PutResponse(ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteResponse(ctx, r.ID, "mallory"); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("another owner's delete: %v, want ErrNotFound", err)
		}
		var ok atomic.Int32
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch err := s.DeleteResponse(ctx, r.ID, "alice"); {
				case err == nil:
					ok.Add(1)
				case !errors.Is(err, session.ErrNotFound):
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 1 {
			t.Errorf("%d concurrent deletes succeeded, want 1", ok.Load())
		}
		if _, err := s.GetResponse(ctx, r.ID, "alice"); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("read after delete: %v", err)
		}
	})
}
