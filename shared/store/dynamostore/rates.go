package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// SetLimit moves connection id's rate limiter class from prev to next in
// one conditional UpdateItem of the connection's item (SET rl.<class>):
// store.ErrStale when the class is no longer prev, store.ErrNotFound when
// the connection is gone (or its ttl passed). The limiter is a map on the
// connection's own item, so a member's messages write nothing shared
// with anyone, and the list of connections in GSI1 (keys only) is not
// written.
func (d *DB) SetLimit(ctx context.Context, id domain.ConnectionID, class string, prev, next time.Time) error {
	names := map[string]string{"#rl": attrLimits, "#c": class, "#ttl": attrTTL}
	values := map[string]types.AttributeValue{
		":next": num64(nanos(next)),
		":now":  num64(d.clock.Now().Unix()),
	}
	cond := "attribute_exists(PK) AND #ttl > :now AND "
	if prev.IsZero() {
		cond += "attribute_not_exists(#rl.#c)"
	} else {
		cond += "#rl.#c = :prev"
		values[":prev"] = num64(nanos(prev))
	}
	_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(d.table),
		Key:                                 keyAV(connectionKey(id)),
		UpdateExpression:                    aws.String("SET #rl.#c = :next"),
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ccf):
		if len(ccf.Item) == 0 || expired(ccf.Item, d.clock.Now()) {
			return fmt.Errorf("dynamostore: set limit %s of %s: %w", class, id, store.ErrNotFound)
		}
		return fmt.Errorf("dynamostore: set limit %s of %s: %w", class, id, store.ErrStale)
	default:
		return fmt.Errorf("dynamostore: set limit %s of %s: %w", class, id, err)
	}
}
