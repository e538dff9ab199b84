package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/greenroom-live/greenroom/shared/wsapi"
)

// chatPrefix starts the text of every chat message the fan-out bench
// sends; the message's index follows.
const chatPrefix = "fanout "

// deliveries records when each member received each chat message.
type deliveries struct {
	mu      sync.Mutex
	members int
	sent    []time.Time
	got     [][]time.Time   // [message][member]; zero until received
	count   []int           // members that received each message
	all     []chan struct{} // closed when every member received it
}

func newDeliveries(messages, members int) *deliveries {
	d := &deliveries{members: members, sent: make([]time.Time, messages), got: make([][]time.Time, messages),
		count: make([]int, messages), all: make([]chan struct{}, messages)}
	for i := range d.got {
		d.got[i] = make([]time.Time, members)
		d.all[i] = make(chan struct{})
	}
	return d
}

// onEvent is the members' event hook: it stamps chat messages.
func (d *deliveries) onEvent(m *member, f frame, at time.Time) {
	if f.Event != "chat.message" || !strings.HasPrefix(f.Text, chatPrefix) {
		return
	}
	k, err := strconv.Atoi(f.Text[len(chatPrefix):])
	if err != nil || k < 0 || k >= len(d.got) {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.got[k][m.index].IsZero() {
		return
	}
	d.got[k][m.index] = at
	if d.count[k]++; d.count[k] == d.members {
		close(d.all[k])
	}
}

// runFanout measures the latency of one chat.send to every member of a
// full primetime session: one message at a time, each from the next
// member in turn, so no one comes near the chat rate limit.
func runFanout(ctx context.Context, out io.Writer, args []string) (err error) {
	fs := flag.NewFlagSet("fanout", flag.ContinueOnError)
	members := fs.Int("members", 50, "members of the session, the host included")
	messages := fs.Int("messages", 100, "chat messages sent, one at a time")
	timeout := fs.Duration("timeout", time.Minute, "bound on the whole measurement")
	if err = fs.Parse(args); err != nil {
		return err
	}
	if *members < 1 || *messages < 1 {
		return errors.New("-members and -messages must be at least 1")
	}
	// Each member sends every members-th message; stay under the limit.
	if perMember := (*messages + *members - 1) / *members; perMember > wsapi.ChatBurst {
		return fmt.Errorf("%d messages from %d members exceed the chat burst of %d each",
			*messages, *members, wsapi.ChatBurst)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	d := newDeliveries(*messages, *members)
	l, err := startLive(ctx, *members, d.onEvent)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, l.Close()) }()

	fmt.Fprintf(out, "== fan-out: one chat.send to all %d members of a primetime session (local runner, embedded store), %d messages\n",
		*members, *messages)
	for k := range *messages {
		sender := l.members[k%len(l.members)]
		d.mu.Lock()
		d.sent[k] = time.Now()
		d.mu.Unlock()
		if _, err := sender.call(ctx, "chat.send", map[string]any{"text": chatPrefix + strconv.Itoa(k)}); err != nil {
			return fmt.Errorf("message %d: %w", k, err)
		}
		select {
		case <-d.all[k]:
		case <-time.After(waitFor):
			return fmt.Errorf("message %d: only %d of %d members received it within %v", k, d.received(k), *members, waitFor)
		case <-ctx.Done():
			return ctx.Err()
		}
	}

	d.mu.Lock()
	var each, last []time.Duration
	for k, row := range d.got {
		var slowest time.Duration
		for _, at := range row {
			lat := at.Sub(d.sent[k])
			each = append(each, lat)
			slowest = max(slowest, lat)
		}
		last = append(last, slowest)
	}
	d.mu.Unlock()
	p50, p99 := spread(each)
	l50, l99 := spread(last)
	fmt.Fprintf(out, "fan-out chat.send -> each member    p50 %s  p99 %s  (%d deliveries)\n", ms(p50), ms(p99), len(each))
	fmt.Fprintf(out, "fan-out chat.send -> last member    p50 %s  p99 %s  max %s  (%d messages)\n",
		ms(l50), ms(l99), ms(last[len(last)-1]), len(last))
	return nil
}

func (d *deliveries) received(k int) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.count[k]
}
