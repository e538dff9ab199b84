package dynamostore

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestKeyTimeSortsByTime(t *testing.T) {
	base := time.Date(2030, time.May, 6, 9, 0, 0, 0, time.UTC)
	times := []time.Time{
		base,
		base.Add(time.Nanosecond),
		base.Add(time.Second),
		base.Add(30 * time.Minute),
		base.Add(10 * time.Hour),
		base.AddDate(1, 0, 0),
	}
	keys := make([]string, len(times))
	for i, tm := range times {
		keys[i] = slotKey("ev", tm).SK
	}
	if !slices.IsSorted(keys) {
		t.Fatalf("slot keys out of time order: %q", keys)
	}
	for i, k := range keys {
		got, ok := slotStartOf(k)
		if !ok || !got.Equal(times[i]) || got.Location() != time.UTC {
			t.Fatalf("slotStartOf(%q) = %v, %v; want %v in UTC", k, got, ok, times[i])
		}
	}
	// A time in another zone lands on the same key as its UTC instant.
	paris := time.FixedZone("CEST", 2*60*60)
	if a, b := slotKey("ev", base.In(paris)), slotKey("ev", base); a != b {
		t.Fatalf("slotKey depends on the zone: %v vs %v", a, b)
	}
}

func TestEventSessionKeysOrderByStartThenID(t *testing.T) {
	base := time.Date(2030, time.May, 6, 9, 0, 0, 0, time.UTC)
	keys := []string{
		eventSessionKey("ev", base, "a").SK,
		eventSessionKey("ev", base, "b").SK,
		eventSessionKey("ev", base.Add(time.Minute), "a").SK,
	}
	if !slices.IsSorted(keys) {
		t.Fatalf("event session keys out of order: %q", keys)
	}
}

func TestIndexUpToIncludesTheTimeItself(t *testing.T) {
	base := time.Date(2030, time.May, 6, 9, 0, 0, 0, time.UTC)
	upTo := indexUpTo(base)
	for _, tc := range []struct {
		sk   string
		want bool
	}{
		{dueIndexKey(base.Add(-time.Nanosecond), "zzz").SK, true},
		{dueIndexKey(base, "a").SK, true},
		{dueIndexKey(base, "zzzzzzzzzzzz").SK, true},
		{staleIndexKey(base, "~~~").SK, true},
		{dueIndexKey(base.Add(time.Nanosecond), "a").SK, false},
		{dueIndexKey(base.Add(time.Second), "").SK, false},
	} {
		if got := tc.sk < upTo; got != tc.want {
			t.Errorf("%q < indexUpTo(%v) = %v, want %v", tc.sk, base, got, tc.want)
		}
	}
}

func TestChatKeysKeepRoomsApart(t *testing.T) {
	base := time.Date(2030, time.May, 6, 9, 0, 0, 0, time.UTC)
	one, ten := 1, 10
	if k := chatKey("s", &ten, base, "m").SK; strings.HasPrefix(k, chatRoomPrefix(&one)) {
		t.Fatalf("room 10's key %q is in room 1's range %q", k, chatRoomPrefix(&one))
	}
	if k := chatKey("s", nil, base, "m").SK; !strings.HasPrefix(k, chatRoomPrefix(nil)) {
		t.Fatalf("main room key %q is not in the main room's range %q", k, chatRoomPrefix(nil))
	}
	keys := []string{
		chatKey("s", &one, base, "b").SK,
		chatKey("s", &one, base.Add(time.Nanosecond), "a").SK,
		chatKey("s", &one, base.Add(time.Hour), "a").SK,
	}
	if !slices.IsSorted(keys) {
		t.Fatalf("chat keys out of time order: %q", keys)
	}
}

func TestRateKeysKeepKeysApart(t *testing.T) {
	w := time.Date(2030, time.May, 6, 9, 0, 0, 0, time.UTC)
	if a, b := rateKey("a#1", w), rateKey("a", w); a == b {
		t.Fatalf("two keys share the counter %v", a)
	}
	if a, b := rateKey("a", w), rateKey("a", w.Add(time.Minute)); a == b {
		t.Fatalf("two windows share the counter %v", a)
	}
}
