// Package dynamostore is the DynamoDB implementation of store.Store: one
// table, keys laid out in keys.go, every limit enforced by a conditional
// write or a TransactWriteItems, never by reading first and writing after.
//
// A DB is safe for concurrent use. It holds no state of its own besides
// its client and settings, so one DB per cold start serves every
// invocation.
package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// Client is the part of the DynamoDB API the store uses; *dynamodb.Client
// implements it.
type Client interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Defaults for retrying transactions that DynamoDB cancels because another
// transaction holds one of their items. Two hundred registrations racing
// for one session conflict on the session item; full jitter spreads them.
const (
	DefaultMaxAttempts = 40
	defaultBaseBackoff = 5 * time.Millisecond
	defaultMaxBackoff  = 500 * time.Millisecond
)

// DB is a store.Store on one DynamoDB table.
type DB struct {
	client      Client
	table       string
	clock       domain.Clock
	maxAttempts int
	baseBackoff time.Duration
	maxBackoff  time.Duration
}

var _ store.Store = (*DB)(nil)

// Option changes a rare setting of a DB.
type Option func(*DB)

// WithClock sets the clock that decides whether an item's TTL has passed
// (the system clock by default).
func WithClock(c domain.Clock) Option { return func(d *DB) { d.clock = c } }

// WithMaxAttempts sets how many times one write transaction is tried when
// it conflicts with others (DefaultMaxAttempts by default; at least 1).
func WithMaxAttempts(n int) Option {
	return func(d *DB) { d.maxAttempts = max(n, 1) }
}

// New returns a store on the table named table, which must have the
// schema CreateTable makes.
func New(client Client, table string, opts ...Option) *DB {
	d := &DB{
		client:      client,
		table:       table,
		clock:       domain.SystemClock{},
		maxAttempts: DefaultMaxAttempts,
		baseBackoff: defaultBaseBackoff,
		maxBackoff:  defaultMaxBackoff,
	}
	for _, o := range opts {
		o(d)
	}
	return d
}

// errCanceled marks a transaction that DynamoDB canceled because a
// condition failed; the reasons say which.
var errCanceled = errors.New("dynamostore: transaction canceled")

// Cancellation reason codes of TransactionCanceledException.
const (
	reasonConditionFailed = "ConditionalCheckFailed"
	reasonConflict        = "TransactionConflict"
	reasonThrottled       = "ThrottlingError"
	reasonProvisioned     = "ProvisionedThroughputExceeded"
)

// failed reports whether item i of a canceled transaction failed its
// condition.
func failed(reasons []types.CancellationReason, i int) bool {
	return i < len(reasons) && aws.ToString(reasons[i].Code) == reasonConditionFailed
}

// transact runs one write transaction. It retries, with full jitter and a
// bounded number of attempts, while DynamoDB cancels it only because of
// conflicts with other transactions or throttling. When a condition
// fails it returns the cancellation reasons, one per item in order, and
// an error that wraps errCanceled.
func (d *DB) transact(ctx context.Context, items []types.TransactWriteItem) ([]types.CancellationReason, error) {
	in := &dynamodb.TransactWriteItemsInput{TransactItems: items}
	var last error
	for attempt := range d.maxAttempts {
		if attempt > 0 {
			if err := d.backoff(ctx, attempt); err != nil {
				return nil, fmt.Errorf("transaction after %d attempts: %w (last: %w)", attempt, err, last)
			}
		}
		// A nil ClientRequestToken gets a fresh one from the SDK on every
		// call, so a retried transaction is not taken for the first.
		in.ClientRequestToken = nil
		_, err := d.client.TransactWriteItems(ctx, in)
		if err == nil {
			return nil, nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			var tc *types.TransactionConflictException
			if errors.As(err, &tc) {
				last = err
				continue
			}
			return nil, err
		}
		retry := false
		for i, r := range tce.CancellationReasons {
			switch aws.ToString(r.Code) {
			case reasonConditionFailed:
				return tce.CancellationReasons, fmt.Errorf("%w: item %d failed its condition", errCanceled, i)
			case reasonConflict, reasonThrottled, reasonProvisioned:
				retry = true
			}
		}
		if !retry {
			return nil, err
		}
		last = err
	}
	return nil, fmt.Errorf("transaction still conflicting after %d attempts: %w", d.maxAttempts, last)
}

// backoff waits a random time up to an exponentially growing bound, or
// until ctx is done.
func (d *DB) backoff(ctx context.Context, attempt int) error {
	bound := d.maxBackoff
	if attempt < 20 {
		bound = min(d.baseBackoff<<attempt, d.maxBackoff)
	}
	t := time.NewTimer(rand.N(bound) + time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// keyAV returns the attribute values of a primary key.
func keyAV(k key) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK: &types.AttributeValueMemberS{Value: k.PK},
		attrSK: &types.AttributeValueMemberS{Value: k.SK},
	}
}

func num(n int) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.Itoa(n)}
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

// get reads one item with a strongly consistent read into out. It reports
// false when the item does not exist or its TTL has passed.
func (d *DB) get(ctx context.Context, k key, out any) (bool, error) {
	res, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.table),
		Key:            keyAV(k),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return false, err
	}
	return d.decode(res.Item, out)
}

// decode unmarshals item into out; it reports false for a missing or
// expired item.
func (d *DB) decode(item map[string]types.AttributeValue, out any) (bool, error) {
	if len(item) == 0 || expired(item, d.clock.Now()) {
		return false, nil
	}
	if err := attributevalue.UnmarshalMap(item, out); err != nil {
		return false, fmt.Errorf("decode %v: %w", item[attrPK], err)
	}
	return true, nil
}

// create writes a new item unless one with its key exists.
func (d *DB) create(ctx context.Context, item any) error {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	_, err = d.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(d.table),
		Item:                av,
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return store.ErrExists
	}
	return err
}

// putNew is a transaction item that writes a new item unless one with its
// key exists.
func (d *DB) putNew(item any) (types.TransactWriteItem, error) {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("encode: %w", err)
	}
	return types.TransactWriteItem{Put: &types.Put{
		TableName:                           aws.String(d.table),
		Item:                                av,
		ConditionExpression:                 aws.String("attribute_not_exists(PK)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}, nil
}

// CreateUser stores a new user; store.ErrExists if the id is taken.
func (d *DB) CreateUser(ctx context.Context, u domain.User) error {
	if err := d.create(ctx, toUserItem(u)); err != nil {
		return fmt.Errorf("dynamostore: create user %s: %w", u.ID, err)
	}
	return nil
}

// GetUser returns a user or store.ErrNotFound.
func (d *DB) GetUser(ctx context.Context, id domain.UserID) (domain.User, error) {
	var it userItem
	ok, err := d.get(ctx, userKey(id), &it)
	if err != nil {
		return domain.User{}, fmt.Errorf("dynamostore: get user %s: %w", id, err)
	}
	if !ok {
		return domain.User{}, fmt.Errorf("dynamostore: get user %s: %w", id, store.ErrNotFound)
	}
	return it.domain(), nil
}

// CreateOrganizer stores a new organizer; store.ErrExists if the id is
// taken.
func (d *DB) CreateOrganizer(ctx context.Context, o domain.Organizer) error {
	if err := d.create(ctx, toOrganizerItem(o)); err != nil {
		return fmt.Errorf("dynamostore: create organizer %s: %w", o.ID, err)
	}
	return nil
}

// CreateEvent stores a new event with no session booked;
// store.ErrExists if the id is taken.
func (d *DB) CreateEvent(ctx context.Context, e domain.Event) error {
	if err := d.create(ctx, toEventItem(e)); err != nil {
		return fmt.Errorf("dynamostore: create event %s: %w", e.ID, err)
	}
	return nil
}

// GetEvent returns an event with its current SessionsBooked, or
// store.ErrNotFound.
func (d *DB) GetEvent(ctx context.Context, id domain.EventID) (domain.Event, error) {
	var it eventItem
	ok, err := d.get(ctx, eventKey(id), &it)
	if err != nil {
		return domain.Event{}, fmt.Errorf("dynamostore: get event %s: %w", id, err)
	}
	if !ok {
		return domain.Event{}, fmt.Errorf("dynamostore: get event %s: %w", id, store.ErrNotFound)
	}
	return it.domain(), nil
}

// CreateEmployer stores a new employer of an existing event in one
// transaction: store.ErrNotFound if the event does not exist,
// store.ErrExists if the id is taken.
func (d *DB) CreateEmployer(ctx context.Context, e domain.Employer) error {
	put, err := d.putNew(toEmployerItem(e))
	if err != nil {
		return fmt.Errorf("dynamostore: create employer %s: %w", e.ID, err)
	}
	reasons, err := d.transact(ctx, []types.TransactWriteItem{
		{ConditionCheck: &types.ConditionCheck{
			TableName:           aws.String(d.table),
			Key:                 keyAV(eventKey(e.EventID)),
			ConditionExpression: aws.String("attribute_exists(PK)"),
		}},
		put,
	})
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, errCanceled):
		return fmt.Errorf("dynamostore: create employer %s: %w", e.ID, err)
	case failed(reasons, 0):
		return fmt.Errorf("dynamostore: create employer %s: event %s: %w", e.ID, e.EventID, store.ErrNotFound)
	default:
		return fmt.Errorf("dynamostore: create employer %s: %w", e.ID, store.ErrExists)
	}
}

// GetEmployer returns an employer of an event, or store.ErrNotFound.
func (d *DB) GetEmployer(ctx context.Context, event domain.EventID, id domain.EmployerID) (domain.Employer, error) {
	var it employerItem
	ok, err := d.get(ctx, employerKey(event, id), &it)
	if err != nil {
		return domain.Employer{}, fmt.Errorf("dynamostore: get employer %s: %w", id, err)
	}
	if !ok {
		return domain.Employer{}, fmt.Errorf("dynamostore: get employer %s of event %s: %w", id, event, store.ErrNotFound)
	}
	return it.domain(), nil
}

// CreateSession stores an instant or primetime session, filed in the list
// of sessions due at s.NextDue(); store.ErrExists if the id is taken.
func (d *DB) CreateSession(ctx context.Context, s domain.Session) error {
	it, err := toSessionItem(s)
	if err != nil {
		return fmt.Errorf("dynamostore: create session %s: %w", s.ID, err)
	}
	if err := d.create(ctx, it); err != nil {
		return fmt.Errorf("dynamostore: create session %s: %w", s.ID, err)
	}
	return nil
}
