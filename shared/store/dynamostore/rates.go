package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// RateCounterLife is how long after its window starts a rate counter is
// kept (its ttl): Allow supports windows up to this long.
// store.Store.Allow does not say how long a window is, so the counter
// must outlive the longest window it serves, or DynamoDB could delete it
// while its window still runs and let the count start again.
const RateCounterLife = 48 * time.Hour

// Allow counts one use of k in the fixed window that starts at window
// with one conditional UpdateItem: ADD n 1 while n is below max. A failed
// condition means the window is used up; the refused use is not counted.
func (d *DB) Allow(ctx context.Context, k string, window time.Time, max int) (bool, error) {
	if max <= 0 {
		return false, nil
	}
	_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(d.table),
		Key:                      keyAV(rateKey(k, window)),
		UpdateExpression:         aws.String("ADD #n :one SET #ttl = :ttl"),
		ConditionExpression:      aws.String("attribute_not_exists(#n) OR #n < :max"),
		ExpressionAttributeNames: map[string]string{"#n": attrCount, "#ttl": attrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": num(1),
			":max": num(max),
			":ttl": num64(window.Add(RateCounterLife).Unix()),
		},
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &ccf):
		return false, nil
	default:
		return false, fmt.Errorf("dynamostore: allow %s in window %s: %w", k, window.UTC().Format(time.RFC3339), err)
	}
}
