package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/greenroom-live/greenroom/shared/store"
)

// errNoWorkerID is returned by PutWorker for a worker without an id,
// which could not be a key.
var errNoWorkerID = errors.New("no worker id")

// workerItem is an SFU worker's record; ttl is HeartbeatAt +
// store.WorkerTTL in Unix seconds. It is filed in GSI1 under WORKER.
type workerItem struct {
	PK          string    `dynamodbav:"PK"`
	SK          string    `dynamodbav:"SK"`
	ID          string    `dynamodbav:"id"`
	ControlURL  string    `dynamodbav:"controlUrl"`
	Capacity    int       `dynamodbav:"capacity"`
	Load        int       `dynamodbav:"load"`
	Rooms       []string  `dynamodbav:"rooms,omitempty"`
	Draining    bool      `dynamodbav:"draining,omitempty"`
	HeartbeatAt time.Time `dynamodbav:"heartbeatAt"`
	TTL         int64     `dynamodbav:"ttl"`
	GSI1PK      string    `dynamodbav:"GSI1PK"`
	GSI1SK      string    `dynamodbav:"GSI1SK"`
}

func toWorkerItem(w store.Worker) workerItem {
	k := workerKey(w.ID)
	ik := workerIndexKey(w.ID)
	return workerItem{
		PK: k.PK, SK: k.SK,
		ID:          w.ID,
		ControlURL:  w.ControlURL,
		Capacity:    w.Capacity,
		Load:        w.Load,
		Rooms:       w.Rooms,
		Draining:    w.Draining,
		HeartbeatAt: w.HeartbeatAt.UTC(),
		TTL:         w.Expires().Unix(),
		GSI1PK:      ik.PK,
		GSI1SK:      ik.SK,
	}
}

func (it workerItem) store() store.Worker {
	return store.Worker{
		ID:          it.ID,
		ControlURL:  it.ControlURL,
		Capacity:    it.Capacity,
		Load:        it.Load,
		Rooms:       it.Rooms,
		Draining:    it.Draining,
		HeartbeatAt: it.HeartbeatAt,
	}
}

// PutWorker records a worker's heartbeat, replacing the record with the
// same id.
func (d *DB) PutWorker(ctx context.Context, w store.Worker) error {
	if w.ID == "" {
		return fmt.Errorf("dynamostore: put worker: %w", errNoWorkerID)
	}
	av, err := attributevalue.MarshalMap(toWorkerItem(w))
	if err != nil {
		return fmt.Errorf("dynamostore: put worker %s: encode: %w", w.ID, err)
	}
	_, err = d.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(d.table), Item: av})
	if err != nil {
		return fmt.Errorf("dynamostore: put worker %s: %w", w.ID, err)
	}
	return nil
}

// ListWorkers returns the workers whose records have not expired, by id:
// their keys from the WORKER partition of GSI1 (eventually consistent:
// see keys.go; the index holds keys only), then the records by their
// keys.
func (d *DB) ListWorkers(ctx context.Context) ([]store.Worker, error) {
	out := []store.Worker{}
	var keys []key
	p := dynamodb.NewQueryPaginator(d.client, &dynamodb.QueryInput{
		TableName:                 aws.String(d.table),
		IndexName:                 aws.String(indexGSI1),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrGSI1PK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(gsiWorker)},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("dynamostore: list workers: %w", err)
		}
		for _, item := range page.Items {
			var k key
			if err := attributevalue.UnmarshalMap(item, &k); err != nil {
				return nil, fmt.Errorf("dynamostore: list workers: %w", err)
			}
			keys = append(keys, k)
		}
	}
	err := d.batchGet(ctx, keys, func(item map[string]types.AttributeValue) error {
		var it workerItem
		ok, err := d.decode(item, &it)
		if ok {
			out = append(out, it.store())
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dynamostore: list workers: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// DeleteWorker removes a worker's record; one that is not there is not
// an error.
func (d *DB) DeleteWorker(ctx context.Context, id string) error {
	_, err := d.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(d.table),
		Key:       keyAV(workerKey(id)),
	})
	if err != nil {
		return fmt.Errorf("dynamostore: delete worker %s: %w", id, err)
	}
	return nil
}
