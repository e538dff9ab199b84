package sfu

import "sync"

// opQueue runs a member's signaling and track operations one at a time on
// its own goroutine, in order, so no PeerConnection call or Signal I/O
// happens under the worker's lock. It is unbounded: pion callbacks push to
// it from inside PeerConnection calls the queue itself is running.
type opQueue struct {
	mu      sync.Mutex
	ops     []func()
	stopped bool
	wake    chan struct{}
	done    chan struct{}
	exited  chan struct{}
}

func newOpQueue() *opQueue {
	q := &opQueue{wake: make(chan struct{}, 1), done: make(chan struct{}), exited: make(chan struct{})}
	go q.run()
	return q
}

// push queues op; it reports false once the queue is stopped.
func (q *opQueue) push(op func()) bool {
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		return false
	}
	q.ops = append(q.ops, op)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

func (q *opQueue) run() {
	defer close(q.exited)
	for {
		q.mu.Lock()
		ops := q.ops
		q.ops = nil
		q.mu.Unlock()
		for _, op := range ops {
			op()
		}
		if len(ops) > 0 {
			continue
		}
		select {
		case <-q.wake:
		case <-q.done:
			return
		}
	}
}

// stop drops queued operations, waits for the running one and the
// goroutine. It is idempotent.
func (q *opQueue) stop() {
	q.mu.Lock()
	if !q.stopped {
		q.stopped = true
		q.ops = nil
		close(q.done)
	}
	q.mu.Unlock()
	<-q.exited
}
