package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// allow calls Allow and fails on an error.
func allow(t *testing.T, s store.Store, key string, window time.Time, max int) bool {
	t.Helper()
	ok, err := s.Allow(t.Context(), key, window, max)
	wantErr(t, "Allow", err, nil)
	return ok
}

func testAllow(t *testing.T, open Opener) {
	t.Run("MaxPerWindow", func(t *testing.T) {
		const max = 3
		s := open(t)
		key := "chat:" + domain.NewID(12)
		window := wallNow().Truncate(time.Minute)
		for i := range max + 2 {
			if got, want := allow(t, s, key, window, max), i < max; got != want {
				t.Fatalf("use %d of a window for %d: Allow = %v, want %v", i+1, max, got, want)
			}
		}
		// The next window starts afresh, and other keys count apart.
		if !allow(t, s, key, window.Add(time.Minute), max) {
			t.Fatal("first use of the next window refused")
		}
		if !allow(t, s, "chat:"+domain.NewID(12), window, max) {
			t.Fatal("first use of another key refused")
		}
		if allow(t, s, key, window, max) {
			t.Fatal("the used-up window allowed another use")
		}
	})

	t.Run("ZeroMax", func(t *testing.T) {
		s := open(t)
		if allow(t, s, "k:"+domain.NewID(12), wallNow(), 0) {
			t.Fatal("Allow with max 0 allowed a use")
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		const n, max = 50, 10
		s := open(t)
		key := "join:" + domain.NewID(12)
		window := wallNow().Truncate(time.Minute)
		allowed := make([]bool, n)
		errs := race(n, func(i int) error {
			var err error
			allowed[i], err = s.Allow(t.Context(), key, window, max)
			return err
		})
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("Allow: %v", err)
		}
		yes := 0
		for _, ok := range allowed {
			if ok {
				yes++
			}
		}
		if yes != max {
			t.Fatalf("%d concurrent uses of a window for %d: %d allowed", n, max, yes)
		}
	})
}
