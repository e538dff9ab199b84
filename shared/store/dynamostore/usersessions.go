package dynamostore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// userSessionItem files a session in its user's partition; ttl is its
// Expires in Unix seconds.
type userSessionItem struct {
	PK        string    `dynamodbav:"PK"`
	SK        string    `dynamodbav:"SK"`
	UserID    string    `dynamodbav:"userId"`
	SessionID string    `dynamodbav:"sessionId"`
	At        time.Time `dynamodbav:"at"`
	TTL       int64     `dynamodbav:"ttl"`
}

// PutUserSession writes the user's entry of a session: one small item in
// the user's own partition, written by nobody else.
func (d *DB) PutUserSession(ctx context.Context, e store.UserSession) error {
	k := userSessionKey(e.UserID, e.SessionID)
	av, err := attributevalue.MarshalMap(userSessionItem{PK: k.PK, SK: k.SK, UserID: string(e.UserID), SessionID: string(e.SessionID), At: e.At.UTC(), TTL: e.Expires.Unix()})
	if err == nil {
		_, err = d.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(d.table), Item: av})
	}
	if err != nil {
		return fmt.Errorf("dynamostore: file session %s of %s: %w", e.SessionID, e.UserID, err)
	}
	return nil
}

// ListUserSessions queries the user's partition for its sessions.
func (d *DB) ListUserSessions(ctx context.Context, user domain.UserID, limit int) ([]store.UserSession, error) {
	out := []store.UserSession{}
	err := d.queryPrefix(ctx, prefixUser+string(user), prefixSession, true, func(item map[string]types.AttributeValue) error {
		var it userSessionItem
		if ok, err := d.decode(item, &it); err != nil || !ok {
			return err
		}
		out = append(out, store.UserSession{UserID: domain.UserID(it.UserID), SessionID: domain.SessionID(it.SessionID), At: it.At, Expires: time.Unix(it.TTL, 0).UTC()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dynamostore: sessions of %s: %w", user, err)
	}
	slices.SortFunc(out, func(a, b store.UserSession) int {
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		return strings.Compare(string(a.SessionID), string(b.SessionID))
	})
	if len(out) > limit {
		out = out[:max(limit, 0)]
	}
	return out, nil
}
