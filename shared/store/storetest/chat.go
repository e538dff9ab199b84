package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// newChat returns a message of session in room, sent at at.
func newChat(session domain.SessionID, room *int, at time.Time, text string) store.ChatMessage {
	return store.ChatMessage{
		SessionID: session,
		ID:        domain.NewID(12),
		UserID:    newUser(),
		Name:      "Ada",
		Text:      text,
		Room:      room,
		At:        at,
	}
}

// wantChat fails unless RecentChat returns want, in order.
func wantChat(t *testing.T, s store.Store, session domain.SessionID, room *int, limit int, want ...store.ChatMessage) {
	t.Helper()
	got, err := s.RecentChat(t.Context(), session, room, limit)
	wantErr(t, "RecentChat", err, nil)
	if !equal(nilIfEmpty(got), nilIfEmpty(want)) {
		t.Fatalf("RecentChat(room %v, %d) = %+v,\nwant %+v", room, limit, got, want)
	}
}

func testChat(t *testing.T, open Opener) {
	t.Run("NewestOldestFirst", func(t *testing.T) {
		s := open(t)
		session := domain.SessionID(domain.NewID(12))
		now := wallNow()
		msgs := make([]store.ChatMessage, 5)
		for i := range msgs {
			msgs[i] = newChat(session, nil, now.Add(time.Duration(i)*time.Second), fmt.Sprintf("line %d", i))
		}
		// Stored out of order: the order is At's.
		for _, i := range []int{3, 0, 4, 1, 2} {
			wantErr(t, "AddChat", s.AddChat(t.Context(), msgs[i]), nil)
		}
		wantChat(t, s, session, nil, 3, msgs[2:]...)
		wantChat(t, s, session, nil, 5, msgs...)
		wantChat(t, s, session, nil, 50, msgs...)
		wantChat(t, s, session, nil, 1, msgs[4])
	})

	t.Run("Rooms", func(t *testing.T) {
		s := open(t)
		session := domain.SessionID(domain.NewID(12))
		now := wallNow()
		one, ten := 1, 10
		main := newChat(session, nil, now, "to all")
		inOne := newChat(session, &one, now.Add(time.Second), "room one")
		inTen := newChat(session, &ten, now.Add(2*time.Second), "room ten")
		elsewhere := newChat(domain.SessionID(domain.NewID(12)), nil, now.Add(3*time.Second), "other session")
		for _, m := range []store.ChatMessage{main, inOne, inTen, elsewhere} {
			wantErr(t, "AddChat", s.AddChat(t.Context(), m), nil)
		}
		wantChat(t, s, session, nil, 10, main)
		wantChat(t, s, session, &one, 10, inOne)
		wantChat(t, s, session, &ten, 10, inTen)
		two := 2
		wantChat(t, s, session, &two, 10)
		wantChat(t, s, domain.SessionID(domain.NewID(12)), nil, 10)
	})

	t.Run("Expires", func(t *testing.T) {
		s := open(t)
		session := domain.SessionID(domain.NewID(12))
		now := wallNow()
		gone := newChat(session, nil, now.Add(-store.ChatTTL-time.Minute), "too old")
		kept := newChat(session, nil, now.Add(-store.ChatTTL+time.Minute), "old")
		recent := newChat(session, nil, now, "new")
		for _, m := range []store.ChatMessage{gone, kept, recent} {
			wantErr(t, "AddChat", s.AddChat(t.Context(), m), nil)
		}
		wantChat(t, s, session, nil, 10, kept, recent)
	})
}
