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

	// More messages than one insert statement of a store may hold, in
	// one Create and in one Append.
	t.Run("ManyMessagesRoundTrip", func(t *testing.T) {
		s := open(t)
		var many []session.Message
		for i := range 21 {
			many = append(many, session.Message{Role: "user", Content: fmt.Sprintf("message %d", i), Time: t0.Add(time.Duration(i) * time.Second)})
		}
		want := newSession(t, s, "s-many", "alice", many[:19]...)
		if err := s.Append(ctx, "s-many", "alice", session.Limits{}, many[19:]...); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "s-many", "alice")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(many, got.Messages); diff != "" || got.ID != want.ID {
			t.Errorf("messages (-want +got):\n%s", diff)
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
		if err := s.Append(ctx, "s1", "alice", session.Limits{}, msgs[1]); err != nil {
			t.Fatal(err)
		}
		if err := s.Append(ctx, "s1", "alice", session.Limits{}, msgs[2:]...); err != nil {
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
			{"Append by other subject", func() error { return s.Append(ctx, "s1", "mallory", session.Limits{}, msgs[1]) }},
			{"Append to missing id", func() error { return s.Append(ctx, "nope", "alice", session.Limits{}, msgs[1]) }},
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
				errs <- s.Append(ctx, "s1", "alice", session.Limits{}, session.Message{Role: "user", Content: fmt.Sprint(i), Time: t0})
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
	t.Run("AppendRefusedPastLimitsChangesNothing", func(t *testing.T) {
		s := open(t)
		big := session.Message{Role: "tool", ToolCallID: "c", Content: "0123456789", Time: t0} // 11 bytes
		tests := []struct {
			name string
			have []session.Message
			lim  session.Limits
			full bool
		}{
			{"below both", msgs[:1], session.Limits{MaxMessages: 2, MaxBytes: 1000}, false},
			{"at max_messages", msgs[:2], session.Limits{MaxMessages: 2}, true},
			{"at max_bytes", []session.Message{big}, session.Limits{MaxBytes: 11}, true},
			{"below max_bytes", []session.Message{big}, session.Limits{MaxBytes: 12}, false},
			{"unbounded", msgs, session.Limits{}, false},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				id := fmt.Sprintf("lim%d", i)
				newSession(t, s, id, "alice", tt.have...)
				err := s.Append(ctx, id, "alice", tt.lim, session.Message{Role: "user", Content: "more", Time: t0})
				got, gerr := s.Get(ctx, id, "alice")
				if gerr != nil {
					t.Fatal(gerr)
				}
				switch {
				case tt.full && !errors.Is(err, session.ErrFull):
					t.Errorf("Append = %v, want session.ErrFull", err)
				case tt.full && len(got.Messages) != len(tt.have):
					t.Errorf("refused Append stored something: %d messages, had %d", len(got.Messages), len(tt.have))
				case !tt.full && err != nil:
					t.Errorf("Append = %v, want it accepted", err)
				case !tt.full && len(got.Messages) != len(tt.have)+1:
					t.Errorf("%d messages after Append, want %d", len(got.Messages), len(tt.have)+1)
				}
			})
		}
	})

	// The bound is checked where the messages go in, atomically: sixteen
	// turns that all saw a session with room left cannot together fill it
	// past its bound.
	t.Run("ConcurrentAppendsKeepLimits", func(t *testing.T) {
		const n = 16
		run := func(t *testing.T, lim session.Limits, each []session.Message) (accepted int, stored []session.Message) {
			s := open(t)
			newSession(t, s, "s1", "alice", msgs[0])
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for range n {
				wg.Go(func() { errs <- s.Append(ctx, "s1", "alice", lim, each...) })
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				switch {
				case err == nil:
					accepted++
				case !errors.Is(err, session.ErrFull):
					t.Fatalf("Append = %v, want nil or session.ErrFull", err)
				}
			}
			got, err := s.Get(ctx, "s1", "alice")
			if err != nil {
				t.Fatal(err)
			}
			return accepted, got.Messages
		}
		turn := []session.Message{{Role: "user", Content: "again", Time: t0}, {Role: "assistant", Content: "answer", Time: t0}}
		t.Run("max_messages", func(t *testing.T) {
			// 1 message, then 2 per turn: turns see 1 and 3 messages
			// below the bound of 4; the third would see 5.
			accepted, got := run(t, session.Limits{MaxMessages: 4}, turn)
			if accepted != 2 || len(got) != 5 {
				t.Errorf("%d appends accepted, %d messages stored; want 2 and 5", accepted, len(got))
			}
		})
		t.Run("max_bytes", func(t *testing.T) {
			// The first message is 19 bytes, a turn 11: after two turns
			// the history (41) reaches the bound of 31.
			accepted, got := run(t, session.Limits{MaxBytes: 31}, turn)
			if accepted != 2 || session.Size(got) != 41 {
				t.Errorf("%d appends accepted, %d bytes stored; want 2 and 41", accepted, session.Size(got))
			}
		})
	})
}
