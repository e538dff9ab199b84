package dynamostore

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
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
		{dueIndexKey(base.Add(-time.Nanosecond), "zzz", skMeta).SK, true},
		{dueIndexKey(base, "a", skMeta).SK, true},
		{dueIndexKey(base, "zzzzzzzzzzzz", prefixMember+"~~~").SK, true},
		{staleIndexKey(base, "~~~").SK, true},
		{dueIndexKey(base.Add(time.Nanosecond), "a", skMeta).SK, false},
		{dueIndexKey(base.Add(time.Second), "", "").SK, false},
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

func TestShardsSpreadAndStay(t *testing.T) {
	// The same id always lands in the same shard, and many ids use every
	// shard: no list is one partition.
	used := map[string]int{}
	for i := range 10000 {
		id := domain.SessionID(domain.NewID(12))
		k := dueIndexKey(time.Time{}, id, skMeta)
		if again := dueIndexKey(time.Time{}, id, prefixMember+"u"); again.PK != k.PK {
			t.Fatalf("one session in shards %s and %s", k.PK, again.PK)
		}
		used[k.PK]++
		if i < 1000 {
			used[staleIndexKey(time.Time{}, domain.ConnectionID(domain.NewID(16))).PK]++
		}
	}
	for _, pk := range append(shards(gsiDue, dueShards), shards(gsiConn, connShards)...) {
		if used[pk] == 0 {
			t.Errorf("shard %s never used", pk)
		}
	}
	if n := used[gsiDue+"0"]; n > 2*10000/dueShards {
		t.Errorf("shard DUE#0 took %d of 10000 sessions", n)
	}
}

func TestVoteKeysGroupAUsersVotes(t *testing.T) {
	k := voteKey("s", "u1", "q9").SK
	if !strings.HasPrefix(k, votePrefix("u1")) || strings.HasPrefix(k, votePrefix("u")) {
		t.Fatalf("vote key %q not in u1's range only", k)
	}
	if u, q, ok := voteParts(k); !ok || u != "u1" || q != "q9" {
		t.Fatalf("voteParts(%q) = %q, %q, %v", k, u, q, ok)
	}
}

// PartitionKey names the partitions the store writes.
func TestPartitionKey(t *testing.T) {
	for _, tc := range []struct {
		kind Partition
		id   string
		want string
	}{
		{PartSession, "s1", sessionKey("s1").PK},
		{PartConnection, "c1", connectionKey("c1").PK},
		{PartWorker, "w1", workerKey("w1").PK},
		{PartEvent, "e1", eventKey("e1").PK},
		{PartUser, "u1", userKey("u1").PK},
		{IndexDue, "s1", dueIndexKey(time.Time{}, "s1", "META").PK},
		{IndexConn, "c1", staleIndexKey(time.Time{}, "c1").PK},
		{IndexWorker, "w1", workerIndexKey("w1").PK},
	} {
		if got := PartitionKey(tc.kind, tc.id); got != tc.want {
			t.Errorf("PartitionKey(%d, %q) = %q, want %q", tc.kind, tc.id, got, tc.want)
		}
	}
}
