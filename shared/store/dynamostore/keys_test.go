package dynamostore

import (
	"slices"
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
