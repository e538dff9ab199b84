package domain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
)

func TestNewGroup(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	g, owner, err := domain.NewGroup("u1", "Ryan", "  Marketing Analysis ", now)
	if err != nil {
		t.Fatalf("NewGroup: %v", err)
	}
	if g.Name != "Marketing Analysis" || g.OwnerID != "u1" || g.Members != 1 || !strings.HasPrefix(string(g.ID), "g") {
		t.Fatalf("group %+v", g)
	}
	if owner.GroupID != g.ID || owner.UserID != "u1" || owner.Role != domain.GroupOwner || !owner.JoinedAt.Equal(now) {
		t.Fatalf("owner %+v", owner)
	}
	for name, bad := range map[string]string{"blank": "   ", "too long": strings.Repeat("é", 121), "control": "a\x00b"} {
		t.Run(name, func(t *testing.T) {
			_, _, err := domain.NewGroup("u1", "Ryan", bad, now)
			checkFields(t, err, "name")
		})
	}
}

func TestGroupChatRateMatchesSessionChat(t *testing.T) {
	// Bursts of 5, then one every 2 seconds: at most 10 in any 10 seconds.
	if n := domain.GroupChatRate.Window(10 * time.Second); n != 10 {
		t.Fatalf("window of 10 s takes %d, want 10", n)
	}
}
