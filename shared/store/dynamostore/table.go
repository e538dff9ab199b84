package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// tableWait bounds how long CreateTable and DeleteTable wait for the
// table to change state.
const tableWait = 2 * time.Minute

// CreateTable creates the table the store needs, with the schema that
// template.yaml declares: string keys PK (hash) and SK (range), the
// global secondary index GSI1 on GSI1PK and GSI1SK projecting keys only
// (see keys.go), on-demand billing, and TTL on the attribute ttl. It waits
// until the table is active. DynamoDB Local accepts the TTL setting but
// never expires items; the store filters them on read.
func CreateTable(ctx context.Context, client *dynamodb.Client, name string) error {
	s := func(n string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS}
	}
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{s(attrPK), s(attrSK), s(attrGSI1PK), s(attrGSI1SK)},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(attrSK), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(indexGSI1),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(attrGSI1PK), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(attrGSI1SK), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}},
	})
	if err != nil {
		return fmt.Errorf("dynamostore: create table %s: %w", name, err)
	}
	w := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
		o.MaxDelay = 2 * time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, tableWait); err != nil {
		return fmt.Errorf("dynamostore: wait for table %s: %w", name, err)
	}
	_, err = client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(attrTTL),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil {
		return fmt.Errorf("dynamostore: enable ttl on table %s: %w", name, err)
	}
	return nil
}

// EnsureTable creates the table as CreateTable does unless a table of that
// name exists, and waits until it is active. The local runner's dynamodb
// mode calls it at start, so a fresh DynamoDB Local needs no setup.
func EnsureTable(ctx context.Context, client *dynamodb.Client, name string) error {
	_, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	var nf *types.ResourceNotFoundException
	switch {
	case err == nil:
	case errors.As(err, &nf):
		err = CreateTable(ctx, client, name)
		var inUse *types.ResourceInUseException
		if err == nil || !errors.As(err, &inUse) {
			return err
		}
	default:
		return fmt.Errorf("dynamostore: describe table %s: %w", name, err)
	}
	w := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
		o.MaxDelay = 2 * time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, tableWait); err != nil {
		return fmt.Errorf("dynamostore: wait for table %s: %w", name, err)
	}
	return nil
}

// DeleteTable deletes a table and waits until it is gone; a table that
// does not exist is not an error.
func DeleteTable(ctx context.Context, client *dynamodb.Client, name string) error {
	_, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("dynamostore: delete table %s: %w", name, err)
	}
	w := dynamodb.NewTableNotExistsWaiter(client, func(o *dynamodb.TableNotExistsWaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
		o.MaxDelay = 2 * time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, tableWait); err != nil {
		return fmt.Errorf("dynamostore: wait for deletion of table %s: %w", name, err)
	}
	return nil
}

// LocalClient returns a client for DynamoDB Local (or any endpoint that
// takes any credentials) at endpoint, such as http://127.0.0.1:8000: static
// dummy credentials, region us-east-1, and Retryer.
func LocalClient(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		Retryer:      Retryer(),
	})
}

// Retryer is the retry policy of every client of the store: the SDK's
// standard retryer (three attempts per call, jittered exponential backoff
// on throttling and 5xx) without its client-side retry quota. That quota
// is one token bucket per client shared by all its calls: when a crowd
// acts at once, the throttled or failed calls of some drain it, and then
// every other call of the process fails at once with "retry quota
// exceeded" instead of being retried — in the local runner one client
// serves the whole crowd. The store bounds its own retries of what it
// expects (conditions that fail, transactions that conflict: a bounded
// number of attempts with full jitter, then store.ErrContention), and a
// Lambda instance serves one invocation at a time, so the quota would
// protect nobody and only turn a burst into errors.
func Retryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.RateLimiter = ratelimit.None
	})
}
