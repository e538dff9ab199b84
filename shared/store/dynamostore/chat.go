package dynamostore

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// AddChat keeps a chat message in its session's partition, in its room's
// range of sort keys, with ttl At + store.ChatTTL.
func (d *DB) AddChat(ctx context.Context, m store.ChatMessage) error {
	av, err := attributevalue.MarshalMap(toChatItem(m))
	if err != nil {
		return fmt.Errorf("dynamostore: add chat %s to %s: encode: %w", m.ID, m.SessionID, err)
	}
	_, err = d.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(d.table), Item: av})
	if err != nil {
		return fmt.Errorf("dynamostore: add chat %s to %s: %w", m.ID, m.SessionID, err)
	}
	return nil
}

// RecentChat returns the newest limit messages of a session's room (nil:
// the main room) whose ttl has not passed, oldest first: a consistent
// query of the room's range, newest first, reversed.
func (d *DB) RecentChat(ctx context.Context, session domain.SessionID, room *int, limit int) ([]store.ChatMessage, error) {
	out, err := newestChat(ctx, d, sessionPK(session), chatRoomPrefix(room), limit, chatItem.domain)
	if err != nil {
		return nil, fmt.Errorf("dynamostore: recent chat of %s: %w", session, err)
	}
	return out, nil
}

// newestChat returns the newest limit chat items (of a session or a
// group) under prefix in partition pk whose ttl has not passed, oldest
// first: a consistent query of the range, newest first, reversed.
func newestChat[I, T any](ctx context.Context, d *DB, pk, prefix string, limit int, conv func(I) T) ([]T, error) {
	out := []T{}
	if limit <= 0 {
		return out, nil
	}
	p := dynamodb.NewQueryPaginator(d.client, &dynamodb.QueryInput{
		TableName:              aws.String(d.table),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :prefix)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":     str(pk),
			":prefix": str(prefix),
		},
		ScanIndexForward: aws.Bool(false),
		ConsistentRead:   aws.Bool(true),
		Limit:            pageSize(limit),
	})
	// Older messages expire first: past the first expired one, all have.
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, item := range page.Items {
			var it I
			ok, err := d.decode(item, &it)
			if err != nil {
				return nil, err
			}
			if !ok {
				slices.Reverse(out)
				return out, nil
			}
			out = append(out, conv(it))
			if len(out) == limit {
				slices.Reverse(out)
				return out, nil
			}
		}
	}
	slices.Reverse(out)
	return out, nil
}
