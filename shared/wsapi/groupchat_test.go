package wsapi

import (
	"testing"

	"github.com/greenroom-live/greenroom/shared/domain"
)

// A group's chat is limited per member exactly as a session's chat is
// per connection.
func TestGroupChatRateIsTheSessionChatRate(t *testing.T) {
	if domain.GroupChatRate != limitChat.rate {
		t.Fatalf("group chat %+v, session chat %+v", domain.GroupChatRate, limitChat.rate)
	}
}
