package dynamostore

import (
	"context"
	"errors"
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

// PutConnection records a connection, replacing one with the same id. Its
// ttl is ConnectedAt + store.ConnectionTTL and it is filed in GSI1 by its
// Stale time.
func (d *DB) PutConnection(ctx context.Context, c store.Connection) error {
	av, err := attributevalue.MarshalMap(toConnectionItem(c))
	if err != nil {
		return fmt.Errorf("dynamostore: put connection %s: encode: %w", c.ID, err)
	}
	_, err = d.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(d.table), Item: av})
	if err != nil {
		return fmt.Errorf("dynamostore: put connection %s: %w", c.ID, err)
	}
	return nil
}

// GetConnection returns a connection, or store.ErrNotFound when there is
// none or its ttl has passed.
func (d *DB) GetConnection(ctx context.Context, id domain.ConnectionID) (store.Connection, error) {
	var it connectionItem
	ok, err := d.get(ctx, connectionKey(id), &it)
	if err != nil {
		return store.Connection{}, fmt.Errorf("dynamostore: get connection %s: %w", id, err)
	}
	if !ok {
		return store.Connection{}, fmt.Errorf("dynamostore: get connection %s: %w", id, store.ErrNotFound)
	}
	return it.domain(), nil
}

// TouchConnection sets a connection's LastSeenAt and moves it in GSI1 to
// its new Stale time. The Stale time depends on ConnectedAt too, so the
// connection is read first and the write is conditional on the same
// record (same connectedAt) still being there; a record replaced in
// between is read again. store.ErrNotFound when there is none or its ttl
// has passed.
func (d *DB) TouchConnection(ctx context.Context, id domain.ConnectionID, at time.Time) error {
	for attempt := range d.maxAttempts {
		if attempt > 0 {
			if err := d.backoff(ctx, attempt); err != nil {
				return fmt.Errorf("dynamostore: touch connection %s after %d attempts: %w", id, attempt, err)
			}
		}
		res, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      aws.String(d.table),
			Key:            keyAV(connectionKey(id)),
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return fmt.Errorf("dynamostore: touch connection %s: %w", id, err)
		}
		var it connectionItem
		ok, err := d.decode(res.Item, &it)
		if err != nil {
			return fmt.Errorf("dynamostore: touch connection %s: %w", id, err)
		}
		if !ok {
			return fmt.Errorf("dynamostore: touch connection %s: %w", id, store.ErrNotFound)
		}
		c := it.domain()
		c.LastSeenAt = at.UTC()
		lastSeen, err := attributevalue.Marshal(c.LastSeenAt)
		if err != nil {
			return fmt.Errorf("dynamostore: touch connection %s: encode: %w", id, err)
		}
		_, err = d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:           aws.String(d.table),
			Key:                 keyAV(connectionKey(id)),
			UpdateExpression:    aws.String("SET #seen = :seen, #gsk = :gsk"),
			ConditionExpression: aws.String("#connected = :connected"),
			ExpressionAttributeNames: map[string]string{
				"#seen": attrLastSeenAt, "#gsk": attrGSI1SK, "#connected": attrConnectedAt,
			},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":seen":      lastSeen,
				":gsk":       str(staleIndexKey(c.Stale(), id).SK),
				":connected": res.Item[attrConnectedAt],
			},
		})
		if err == nil {
			return nil
		}
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			return fmt.Errorf("dynamostore: touch connection %s: %w", id, err)
		}
	}
	return fmt.Errorf("dynamostore: touch connection %s: %d attempts: %w", id, d.maxAttempts, store.ErrContention)
}

// DeleteConnection removes a connection; one that is not there is not an
// error.
func (d *DB) DeleteConnection(ctx context.Context, id domain.ConnectionID) error {
	_, err := d.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(d.table),
		Key:       keyAV(connectionKey(id)),
	})
	if err != nil {
		return fmt.Errorf("dynamostore: delete connection %s: %w", id, err)
	}
	return nil
}

// StaleConnections returns up to limit connections whose Stale time is
// not after now, the earliest first, from the shards of the connection
// list in GSI1 (eventually consistent: see keys.go), merged; the index
// holds keys only, so the records are read (strongly consistent) by
// their keys. Records past their ttl are stale too and are returned, so
// that the caller cleans them up: DynamoDB deletes them only eventually,
// DynamoDB Local never.
func (d *DB) StaleConnections(ctx context.Context, now time.Time, limit int) ([]store.Connection, error) {
	out := []store.Connection{}
	if limit <= 0 {
		return out, nil
	}
	type entry struct {
		sk string
		k  key
	}
	var found []entry
	for _, pk := range shards(gsiConn, connShards) {
		err := d.queryIndex(ctx, pk, indexUpTo(now), limit, func(item map[string]types.AttributeValue) (bool, error) {
			var k struct {
				PK     string `dynamodbav:"PK"`
				SK     string `dynamodbav:"SK"`
				GSI1SK string `dynamodbav:"GSI1SK"`
			}
			if err := attributevalue.UnmarshalMap(item, &k); err != nil {
				return false, err
			}
			found = append(found, entry{k.GSI1SK, key{k.PK, k.SK}})
			return true, nil
		})
		if err != nil {
			return nil, fmt.Errorf("dynamostore: stale connections at %s: %w", now.UTC().Format(time.RFC3339), err)
		}
	}
	slices.SortFunc(found, func(a, b entry) int { return strings.Compare(a.sk, b.sk) })
	found = found[:min(len(found), limit)]
	keys := make([]key, len(found))
	for i, e := range found {
		keys[i] = e.k
	}
	byKey := map[key]store.Connection{}
	err := d.batchGet(ctx, keys, func(item map[string]types.AttributeValue) error {
		var it connectionItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return fmt.Errorf("decode %v: %w", item[attrPK], err)
		}
		byKey[key{it.PK, it.SK}] = it.domain()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dynamostore: stale connections at %s: %w", now.UTC().Format(time.RFC3339), err)
	}
	for _, e := range found {
		// A record deleted since the index was read is gone, not stale;
		// one touched since may not be stale any more. An expired one is
		// stale: its ttl comes after its Stale time.
		if c, ok := byKey[e.k]; ok && !c.Stale().After(now) {
			out = append(out, c)
		}
	}
	return out, nil
}
