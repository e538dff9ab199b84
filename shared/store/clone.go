package store

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/greenroom-live/greenroom/shared/domain"
)

// Clone returns a deep copy of s: what a rule changes of the copy, even
// when it fails half way, cannot reach s.
func Clone(s domain.Session) (domain.Session, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return domain.Session{}, fmt.Errorf("store: copy session %s: %w", s.ID, err)
	}
	var c domain.Session
	if err := json.Unmarshal(b, &c); err != nil {
		return domain.Session{}, fmt.Errorf("store: copy session %s: %w", s.ID, err)
	}
	c.Live.Partial = s.Live.Partial
	return c, nil
}

// Canonical puts a session's members in the order they joined (then by
// id) and its questions in the order they were asked (then by id): the
// order every store returns them in, whatever order its items are read.
func Canonical(s *domain.Session) {
	slices.SortStableFunc(s.Live.Members, func(a, b domain.Member) int {
		if a.JoinSeq != b.JoinSeq {
			return cmp.Compare(a.JoinSeq, b.JoinSeq)
		}
		return strings.Compare(string(a.UserID), string(b.UserID))
	})
	slices.SortStableFunc(s.Live.Questions, func(a, b domain.Question) int {
		if a.Seq != b.Seq {
			return cmp.Compare(a.Seq, b.Seq)
		}
		return strings.Compare(a.ID, b.ID)
	})
}
