package domain_test

import (
	"sync"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
)

var _ domain.Clock = (*domain.ManualClock)(nil)
var _ domain.Clock = domain.SystemClock{}

func TestManualClock(t *testing.T) {
	cest := time.FixedZone("CEST", 2*60*60)
	tests := []struct {
		name string
		run  func(c *domain.ManualClock)
		want time.Time
	}{
		{"stands still", func(c *domain.ManualClock) {}, t0},
		{"Advance", func(c *domain.ManualClock) { c.Advance(5 * time.Minute) }, t0.Add(5 * time.Minute)},
		{"Advance twice", func(c *domain.ManualClock) { c.Advance(time.Minute); c.Advance(29 * time.Minute) }, t0.Add(30 * time.Minute)},
		{"Advance backwards", func(c *domain.ManualClock) { c.Advance(-time.Hour) }, t0.Add(-time.Hour)},
		{"Set", func(c *domain.ManualClock) { c.Set(t0.Add(48 * time.Hour)) }, t0.Add(48 * time.Hour)},
		{"Set then Advance", func(c *domain.ManualClock) { c.Set(t0.Add(time.Hour)); c.Advance(time.Second) }, t0.Add(time.Hour + time.Second)},
		{"Set in another zone", func(c *domain.ManualClock) { c.Set(t0.In(cest)) }, t0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := domain.NewManualClock(t0.In(cest))
			tt.run(c)
			got := c.Now()
			if !got.Equal(tt.want) {
				t.Errorf("Now() = %v, want %v", got, tt.want)
			}
			if got.Location() != time.UTC {
				t.Errorf("Now() = %v, not in UTC", got)
			}
			if got2 := c.Now(); !got2.Equal(got) {
				t.Errorf("clock moved on its own: %v then %v", got, got2)
			}
		})
	}
}

// TestManualClockConcurrent is meant for -race: many goroutines advance
// and read the clock; every advance must count.
func TestManualClockConcurrent(t *testing.T) {
	const workers, steps = 8, 500
	c := domain.NewManualClock(t0)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range steps {
				c.Advance(time.Second)
			}
		}()
		go func() {
			defer wg.Done()
			prev := c.Now()
			for range steps {
				now := c.Now()
				if now.Before(prev) {
					t.Errorf("clock went back from %v to %v", prev, now)
					return
				}
				prev = now
			}
		}()
	}
	wg.Wait()
	if want := t0.Add(workers * steps * time.Second); !c.Now().Equal(want) {
		t.Fatalf("Now() = %v, want %v", c.Now(), want)
	}
	var sw sync.WaitGroup
	for range workers {
		sw.Add(1)
		go func() {
			defer sw.Done()
			c.Set(t0)
			_ = c.Now()
		}()
	}
	sw.Wait()
	if !c.Now().Equal(t0) {
		t.Fatalf("Now() = %v after concurrent Set, want %v", c.Now(), t0)
	}
}

func TestSystemClock(t *testing.T) {
	before := time.Now()
	got := domain.SystemClock{}.Now()
	after := time.Now()
	if got.Location() != time.UTC {
		t.Errorf("Now() = %v, not in UTC", got)
	}
	if got.Before(before.Add(-time.Second)) || got.After(after.Add(time.Second)) {
		t.Errorf("Now() = %v, not between %v and %v", got, before, after)
	}
}
