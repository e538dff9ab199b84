package turnserver

import (
	"net"
	"sync"
	"time"
)

// reservationTTL is how long a slot granted by the quota check waits for
// its allocation; pion creates the allocation right after the check, so a
// reservation left over means the allocation failed.
const reservationTTL = 5 * time.Second

// quota enforces the per-user and total allocation quotas (RFC 8656
// section 7.2, 486 Allocation Quota Reached). pion/turn asks before it
// creates an allocation and reports creations and deletions as events;
// between the two, a granted slot is held as a reservation, so concurrent
// requests over TCP cannot all pass the check.
type quota struct {
	perUser int // At most this many allocations per user id; negative: no limit.
	total   int // At most this many allocations in all; negative: no limit.
	now     func() time.Time

	mu       sync.Mutex
	active   map[string]int // Allocations per user id.
	count    int            // Allocations in all.
	reserved []reservation
}

type reservation struct {
	user string
	src  string
	at   time.Time
}

func newQuota(perUser, total int, now func() time.Time) *quota {
	return &quota{perUser: perUser, total: total, now: now, active: make(map[string]int)}
}

// admit reports whether user may have one more allocation, and reserves it
// if so; refused names the quota that refused it.
func (q *quota) admit(user string, src net.Addr) (ok bool, refused string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	q.expireLocked(now)
	mine := q.active[user]
	for _, r := range q.reserved {
		if r.user == user {
			mine++
		}
	}
	if q.perUser >= 0 && mine >= q.perUser {
		return false, scopeUser
	}
	if q.total >= 0 && q.count+len(q.reserved) >= q.total {
		return false, scopeTotal
	}
	q.reserved = append(q.reserved, reservation{user: user, src: src.String(), at: now})

	return true, ""
}

// created turns the reservation of user from src into an allocation.
func (q *quota) created(user string, src net.Addr) {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := src.String()
	for i, r := range q.reserved {
		if r.user == user && r.src == s {
			q.reserved = append(q.reserved[:i], q.reserved[i+1:]...)

			break
		}
	}
	q.active[user]++
	q.count++
}

// deleted releases an allocation of user.
func (q *quota) deleted(user string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.active[user] <= 1 {
		delete(q.active, user)
	} else {
		q.active[user]--
	}
	if q.count > 0 {
		q.count--
	}
}

func (q *quota) expireLocked(now time.Time) {
	kept := q.reserved[:0]
	for _, r := range q.reserved {
		if now.Sub(r.at) < reservationTTL {
			kept = append(kept, r)
		}
	}
	clear(q.reserved[len(kept):])
	q.reserved = kept
}
