package simulate

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/greenroom-live/greenroom/sfuworker/registry"
	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/media"
	"github.com/greenroom-live/greenroom/shared/store"
)

// memStore is one cell's table, in memory: the session items and the
// worker registry, as far as the media layer (media.Store) and the
// workers' heartbeats (registry.Workers) use them. It charges each write
// and read to the cell's meter, by the real partition keys.
type memStore struct {
	sim      *sim
	cell     *cell
	sessions map[domain.SessionID]*domain.Session
	// workers are the records by id; list, by id too, is handed out
	// by ListWorkers and copied before a change once handed out.
	workers map[string]int
	list    []store.Worker
	shared  bool
}

var (
	_ media.Store      = (*memStore)(nil)
	_ registry.Workers = (*memStore)(nil)
)

func (m *memStore) Update(_ context.Context, id domain.SessionID, _ store.Load, fn func(*domain.Session) error) (domain.Session, error) {
	s, ok := m.sessions[id]
	if !ok {
		return domain.Session{}, fmt.Errorf("simulate: session %s: %w", id, store.ErrNotFound)
	}
	cp := *s
	from := cp.Live.Media.WorkerID
	sess := m.cell.byID[id]
	m.sim.chargePart(m.cell, sess.partKey, 0, m.sim.f.Assignment.RCU)
	if err := fn(&cp); err != nil {
		return *s, err
	}
	cp.Version++
	*s = cp
	m.sim.chargePart(m.cell, sess.partKey, m.sim.f.Assignment.WCU, 0)
	m.sim.usage.WriteUnits += m.sim.f.Assignment.WCU
	m.sim.usage.ReadUnits += m.sim.f.Assignment.RCU
	if to := cp.Live.Media.WorkerID; to != from {
		m.sim.assigned(m.cell, sess, from, to)
	}
	return cp, nil
}

func (m *memStore) ReadSession(_ context.Context, id domain.SessionID, _ store.Load) (domain.Session, error) {
	s, ok := m.sessions[id]
	if !ok {
		return domain.Session{}, fmt.Errorf("simulate: session %s: %w", id, store.ErrNotFound)
	}
	return *s, nil
}

// ListWorkers returns the records by id. Its reads are charged by the
// per-second tick (every handler lists once per cache period), not here.
func (m *memStore) ListWorkers(context.Context) ([]store.Worker, error) {
	m.shared = true
	return m.list, nil
}

func (m *memStore) own() {
	if m.shared {
		m.list = slices.Clone(m.list)
		m.shared = false
	}
}

func (m *memStore) reindex() {
	clear(m.workers)
	for i, w := range m.list {
		m.workers[w.ID] = i
	}
}

func (m *memStore) DeleteWorker(_ context.Context, id string) error {
	i, ok := m.workers[id]
	if !ok {
		return nil
	}
	m.own()
	m.list = slices.Delete(m.list, i, i+1)
	m.reindex()
	return nil
}

func (m *memStore) PutWorker(_ context.Context, w store.Worker) error {
	m.own()
	if i, ok := m.workers[w.ID]; ok {
		m.list[i] = w
		return nil
	}
	i, _ := slices.BinarySearchFunc(m.list, w.ID, func(a store.Worker, id string) int { return strings.Compare(a.ID, id) })
	m.list = slices.Insert(m.list, i, w)
	m.reindex()
	return nil
}
