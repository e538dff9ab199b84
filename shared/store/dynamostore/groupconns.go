package dynamostore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// PutGroupConnection writes the connection's record and its item in the
// group's partition in one transaction.
func (d *DB) PutGroupConnection(ctx context.Context, c store.Connection) error {
	rec, err := attributevalue.MarshalMap(toConnectionItem(c))
	if err != nil {
		return fmt.Errorf("dynamostore: put connection %s: encode: %w", c.ID, err)
	}
	idx, err := attributevalue.MarshalMap(toGroupConnItem(c))
	if err != nil {
		return fmt.Errorf("dynamostore: put connection %s: encode: %w", c.ID, err)
	}
	_, err = d.transact(ctx, []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(d.table), Item: rec}},
		{Put: &types.Put{TableName: aws.String(d.table), Item: idx}},
	})
	if err != nil {
		return fmt.Errorf("dynamostore: put connection %s of group %s: %w", c.ID, c.GroupID, err)
	}
	return nil
}

// ListGroupConnections queries the group's partition for its connections
// (strongly consistent), leaving out those past their ttl.
func (d *DB) ListGroupConnections(ctx context.Context, group domain.GroupID) ([]store.Connection, error) {
	out := []store.Connection{}
	err := d.queryPrefix(ctx, groupPK(group), prefixConn, true, func(item map[string]types.AttributeValue) error {
		var it groupConnItem
		if ok, err := d.decode(item, &it); err != nil || !ok {
			return err
		}
		out = append(out, it.domain())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dynamostore: connections of group %s: %w", group, err)
	}
	slices.SortFunc(out, func(a, b store.Connection) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return out, nil
}

// DeleteGroupConnection deletes the connection's item in the group's
// partition and its record in one transaction.
func (d *DB) DeleteGroupConnection(ctx context.Context, group domain.GroupID, id domain.ConnectionID) error {
	_, err := d.transact(ctx, []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: aws.String(d.table), Key: keyAV(groupConnKey(group, id))}},
		{Delete: &types.Delete{TableName: aws.String(d.table), Key: keyAV(connectionKey(id))}},
	})
	if err != nil {
		return fmt.Errorf("dynamostore: delete connection %s of group %s: %w", id, group, err)
	}
	return nil
}
