package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/session"
)

// TestSessionStore runs the session store contract against stores from
// open, each of which must be fresh and empty.
func TestSessionStore(t *testing.T, open func(t *testing.T) session.Store) {
	ctx := context.Background()
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	msgs := []session.Message{
		{Role: "user", Content: "status of CLM-1001?", Time: t0},
		{Role: "assistant", ToolCalls: []session.ToolCall{{ID: "call_1", Name: "claims_status",
			Arguments: `{"claim_id":"CLM-1001"}`}}, Time: t0.Add(time.Second)},
		{Role: "tool", ToolCallID: "call_1", Content: `{"status":"open"}`, Time: t0.Add(2 * time.Second)},
	}
	newSession := func(t *testing.T, s session.Store, id, subject string, m ...session.Message) *session.Session {
		t.Helper()
		ss := &session.Session{ID: id, Subject: subject, Agent: "support_agent", Created: t0, Updated: t0, Messages: m}
		if err := s.Create(ctx, ss); err != nil {
			t.Fatalf("Create: %v", err)
		}
		return ss
	}

	t.Run("CreateGetRoundTrip", func(t *testing.T) {
		s := open(t)
		want := newSession(t, s, "s1", "alice", msgs...)
		got, err := s.Get(ctx, "s1", "alice")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Get (-want +got):\n%s", diff)
		}
	})

	t.Run("CreateFillsIDAndTimes", func(t *testing.T) {
		s := open(t)
		ss := &session.Session{Subject: "alice", Agent: "a"}
		if err := s.Create(ctx, ss); err != nil {
			t.Fatal(err)
		}
		if ss.ID == "" || ss.Created.IsZero() {
			t.Fatalf("Create left ID %q, Created %v", ss.ID, ss.Created)
		}
		if _, err := s.Get(ctx, ss.ID, "alice"); err != nil {
			t.Errorf("Get of created session: %v", err)
		}
	})

	t.Run("DuplicateIDFails", func(t *testing.T) {
		s := open(t)
		newSession(t, s, "s1", "alice")
		if err := s.Create(ctx, &session.Session{ID: "s1", Subject: "mallory"}); err == nil {
			t.Fatal("Create with a taken id succeeded")
		}
		if _, err := s.Get(ctx, "s1", "mallory"); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Get by the second creator = %v, want ErrNotFound", err)
		}
	})

	t.Run("AppendKeepsOrder", func(t *testing.T) {
		s := open(t)
		newSession(t, s, "s1", "alice", msgs[0])
		if err := s.Append(ctx, "s1", "alice", msgs[1]); err != nil {
			t.Fatal(err)
		}
		if err := s.Append(ctx, "s1", "alice", msgs[2:]...); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "s1", "alice")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(msgs, got.Messages); diff != "" {
			t.Errorf("Messages (-want +got):\n%s", diff)
		}
		if !got.Updated.After(t0) {
			t.Errorf("Updated = %v, want after %v", got.Updated, t0)
		}
	})

	t.Run("WrongSubjectSeesNothingAndChangesNothing", func(t *testing.T) {
		s := open(t)
		want := newSession(t, s, "s1", "alice", msgs[0])
		tests := []struct {
			name string
			call func() error
		}{
			{"Get by other subject", func() error { _, err := s.Get(ctx, "s1", "mallory"); return err }},
			{"Get by empty subject", func() error { _, err := s.Get(ctx, "s1", ""); return err }},
			{"Get of missing id", func() error { _, err := s.Get(ctx, "nope", "alice"); return err }},
			{"Append by other subject", func() error { return s.Append(ctx, "s1", "mallory", msgs[1]) }},
			{"Append to missing id", func() error { return s.Append(ctx, "nope", "alice", msgs[1]) }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := tt.call(); !errors.Is(err, session.ErrNotFound) {
					t.Errorf("err = %v, want session.ErrNotFound", err)
				}
			})
		}
		got, err := s.Get(ctx, "s1", "alice")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("owner's session changed (-want +got):\n%s", diff)
		}
	})

	t.Run("ConcurrentAppends", func(t *testing.T) {
		s := open(t)
		newSession(t, s, "s1", "alice")
		const n = 20
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				errs <- s.Append(ctx, "s1", "alice", session.Message{Role: "user", Content: fmt.Sprint(i), Time: t0})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Get(ctx, "s1", "alice")
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Messages) != n {
			t.Errorf("Get = %d messages, want %d", len(got.Messages), n)
		}
	})
}
