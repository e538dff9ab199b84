package dynamostore

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/greenroom-live/greenroom/shared/store"
)

// Usage is what one call to DynamoDB consumed, as DynamoDB reports it
// with ReturnConsumedCapacity TOTAL.
type Usage struct {
	// Label is the label of the call's context (store.Label): the message
	// or route it was made for.
	Label string
	// Op is the API operation: GetItem, Query, TransactWriteItems, ...
	Op string
	// RCU and WCU are the read and write capacity units consumed.
	RCU, WCU float64
	// Failed reports a call that returned an error; a failed conditional
	// write is billed all the same, though DynamoDB does not say how much.
	Failed bool
}

// Meter receives the usage of every call a metered client makes. It must
// be safe for concurrent use.
type Meter func(Usage)

// MeterClient returns c asking DynamoDB for the consumed capacity of
// every call (ReturnConsumedCapacity TOTAL) and reporting it to m. It is
// for benchmarks: in production the figures go unread.
func MeterClient(c Client, m Meter) Client { return &metered{c: c, m: m} }

type metered struct {
	c Client
	m Meter
}

var _ Client = (*metered)(nil)

// report sums cc as reads or writes and calls the meter.
func (mc *metered) report(ctx context.Context, op string, write bool, err error, cc ...types.ConsumedCapacity) {
	u := Usage{Label: store.Label(ctx), Op: op, Failed: err != nil}
	for _, c := range cc {
		units := aws.ToFloat64(c.CapacityUnits)
		if write {
			u.WCU += units
		} else {
			u.RCU += units
		}
	}
	mc.m(u)
}

func one(c *types.ConsumedCapacity) []types.ConsumedCapacity {
	if c == nil {
		return nil
	}
	return []types.ConsumedCapacity{*c}
}

func (mc *metered) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := mc.c.GetItem(ctx, in, opts...)
	var cc []types.ConsumedCapacity
	if out != nil {
		cc = one(out.ConsumedCapacity)
	}
	mc.report(ctx, "GetItem", false, err, cc...)
	return out, err
}

func (mc *metered) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := mc.c.PutItem(ctx, in, opts...)
	var cc []types.ConsumedCapacity
	if out != nil {
		cc = one(out.ConsumedCapacity)
	}
	mc.report(ctx, "PutItem", true, err, cc...)
	return out, err
}

func (mc *metered) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := mc.c.UpdateItem(ctx, in, opts...)
	var cc []types.ConsumedCapacity
	if out != nil {
		cc = one(out.ConsumedCapacity)
	}
	mc.report(ctx, "UpdateItem", true, err, cc...)
	return out, err
}

func (mc *metered) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := mc.c.DeleteItem(ctx, in, opts...)
	var cc []types.ConsumedCapacity
	if out != nil {
		cc = one(out.ConsumedCapacity)
	}
	mc.report(ctx, "DeleteItem", true, err, cc...)
	return out, err
}

func (mc *metered) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := mc.c.Query(ctx, in, opts...)
	var cc []types.ConsumedCapacity
	if out != nil {
		cc = one(out.ConsumedCapacity)
	}
	mc.report(ctx, "Query", false, err, cc...)
	return out, err
}

func (mc *metered) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := mc.c.BatchGetItem(ctx, in, opts...)
	var cc []types.ConsumedCapacity
	if out != nil {
		cc = out.ConsumedCapacity
	}
	mc.report(ctx, "BatchGetItem", false, err, cc...)
	return out, err
}

func (mc *metered) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := mc.c.TransactWriteItems(ctx, in, opts...)
	var cc []types.ConsumedCapacity
	if out != nil {
		cc = out.ConsumedCapacity
	}
	mc.report(ctx, "TransactWriteItems", true, err, cc...)
	return out, err
}
