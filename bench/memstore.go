package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse/internal/approval"
	"github.com/gatehousehq/gatehouse/internal/dlp"
	"github.com/gatehousehq/gatehouse/internal/httpapi"
	"github.com/gatehousehq/gatehouse/internal/passthrough"
	"github.com/gatehousehq/gatehouse/internal/session"
)

// storeAll is every interface gatehouse asks of its session store.
type storeAll interface {
	session.Store
	passthrough.CallStore
	approval.Store
	session.ResponseStore
	dlp.Vault
	httpapi.RateCounter
}

// memSessions is G-mem's and GP-mem's session store: sessions and the
// released tool calls live in maps, so nothing a run leaves is durable.
// What no scenario's run touches (paused runs, the data-protection vault,
// stored responses, shared rate counts) stays with the store it wraps.
// The harness wires it through app.Options.WrapSessions; no config can.
type memSessions struct {
	storeAll
	mu       sync.Mutex
	sessions map[string]*session.Session
	calls    map[string]passthrough.Released
	// order holds the ids in creation order: past memKeep of each kind,
	// the oldest are dropped, so a scenario's memory does not grow with
	// its runs (the harness never returns to a session).
	sessionOrder, callOrder []string
}

// memKeep is how many sessions, and how many released calls, the -mem
// scenarios keep.
const memKeep = 4096

// remember adds id to order, dropping the oldest past memKeep from m.
func remember[V any](m map[string]V, order *[]string, id string) {
	*order = append(*order, id)
	if len(*order) > 2*memKeep {
		for _, old := range (*order)[:len(*order)-memKeep] {
			delete(m, old)
		}
		*order = append((*order)[:0], (*order)[len(*order)-memKeep:]...)
	}
}

// wrapInMemory is app.Options.WrapSessions for the -mem scenarios.
func wrapInMemory(s session.Store) session.Store {
	all, ok := s.(storeAll)
	if !ok {
		panic(fmt.Sprintf("bench: session store %T lacks an interface gatehouse needs", s))
	}
	return &memSessions{storeAll: all, sessions: map[string]*session.Session{}, calls: map[string]passthrough.Released{}}
}

func (m *memSessions) Create(_ context.Context, s *session.Session) error {
	if err := s.FillNew(time.Now()); err != nil {
		return err
	}
	c := *s
	c.Messages = slices.Clone(s.Messages)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.sessions[c.ID]; ok {
		return fmt.Errorf("create session: id %s taken", c.ID)
	}
	m.sessions[c.ID] = &c
	remember(m.sessions, &m.sessionOrder, c.ID)
	return nil
}

func (m *memSessions) Get(_ context.Context, id, subject string) (*session.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	if !ok || s.Subject != subject {
		return nil, session.ErrNotFound
	}
	c := *s
	c.Messages = slices.Clone(s.Messages)
	return &c, nil
}

func (m *memSessions) Append(_ context.Context, id, subject string, lim session.Limits, msgs ...session.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	if !ok || s.Subject != subject {
		return session.ErrNotFound
	}
	if err := lim.Check(s.Messages); err != nil {
		return err
	}
	s.Messages = append(s.Messages, msgs...)
	s.Updated = time.Now().UTC()
	return nil
}

func (m *memSessions) Release(_ context.Context, calls []passthrough.Released) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range calls {
		if _, ok := m.calls[c.ID]; ok {
			return fmt.Errorf("release tool call: id %s taken", c.ID)
		}
	}
	for _, c := range calls {
		m.calls[c.ID] = c
		remember(m.calls, &m.callOrder, c.ID)
	}
	return nil
}

func (m *memSessions) Lookup(_ context.Context, owner string, ids []string) (map[string]passthrough.Released, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]passthrough.Released{}
	for _, id := range ids {
		if c, ok := m.calls[id]; ok && c.Owner == owner {
			out[id] = c
		}
	}
	return out, nil
}

func (m *memSessions) MarkReported(_ context.Context, owner string, reports []passthrough.Report) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var marked []string
	for _, r := range reports {
		if c, ok := m.calls[r.ID]; ok && c.Owner == owner && !c.Reported {
			c.Reported, c.ResultSHA256 = true, r.ResultSHA256
			m.calls[r.ID] = c
			marked = append(marked, r.ID)
		}
	}
	return marked, nil
}
