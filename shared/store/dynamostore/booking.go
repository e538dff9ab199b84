package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// The items of a booking transaction, in the order of the contract's
// precedence of errors.
const (
	bookEmployer = iota
	bookEvent
	bookSlot
	bookSession
	bookListing
)

// BookSession stores a scheduled session in one transaction over five
// distinct items: the employer's counter, the event's counter, the slot's
// counter (made on first use), the session and its listing in the event's
// partition. Each counter's condition holds it within its limit, so that
// no limit can be passed whatever runs at the same time.
func (d *DB) BookSession(ctx context.Context, s domain.Session, lim store.BookingLimits) error {
	si, err := toSessionItem(s)
	if err != nil {
		return fmt.Errorf("dynamostore: book session %s: %w", s.ID, err)
	}
	sess, err := d.putNew(si)
	if err != nil {
		return fmt.Errorf("dynamostore: book session %s: %w", s.ID, err)
	}
	lk := eventSessionKey(s.EventID, s.Start, s.ID)
	listing, err := d.putNew(eventSessionItem{PK: lk.PK, SK: lk.SK, SessionID: string(s.ID)})
	if err != nil {
		return fmt.Errorf("dynamostore: book session %s: %w", s.ID, err)
	}
	items := make([]types.TransactWriteItem, 5)
	items[bookEmployer] = d.countUp(employerKey(s.EventID, s.EmployerID), attrSessionsBooked, lim.MaxSessionsPerEmployer, true)
	items[bookEvent] = d.countUp(eventKey(s.EventID), attrSessionsBooked, lim.MaxSessions, true)
	items[bookSlot] = d.countUp(slotKey(s.EventID, s.Start), attrBooked, lim.SessionsPerSlot, false)
	items[bookSession] = sess
	items[bookListing] = listing

	reasons, err := d.transact(ctx, items)
	if err == nil {
		return nil
	}
	if !errors.Is(err, errCanceled) {
		return fmt.Errorf("dynamostore: book session %s: %w", s.ID, err)
	}
	if err := d.bookingError(ctx, reasons, s, lim); err != nil {
		return fmt.Errorf("dynamostore: book session %s: %w", s.ID, err)
	}
	return fmt.Errorf("dynamostore: book session %s: %w", s.ID, err)
}

// countUp is a transaction item that adds one to the counter attr of the
// item k while the counter stays within limit. When mustExist, the item
// must already exist; otherwise the counter starts at zero.
func (d *DB) countUp(k key, attr string, limit int, mustExist bool) types.TransactWriteItem {
	u := &types.Update{
		TableName:                           aws.String(d.table),
		Key:                                 keyAV(k),
		ExpressionAttributeNames:            map[string]string{"#n": attr},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	if mustExist {
		u.UpdateExpression = aws.String("SET #n = #n + :one")
		u.ConditionExpression = aws.String("attribute_exists(PK) AND #n < :limit")
		u.ExpressionAttributeValues = map[string]types.AttributeValue{":one": num(1), ":limit": num(limit)}
	} else {
		u.UpdateExpression = aws.String("SET #n = if_not_exists(#n, :zero) + :one")
		u.ConditionExpression = aws.String("(attribute_not_exists(#n) AND :zero < :limit) OR #n < :limit")
		u.ExpressionAttributeValues = map[string]types.AttributeValue{":zero": num(0), ":one": num(1), ":limit": num(limit)}
	}
	return types.TransactWriteItem{Update: u}
}

// bookingError tells why a booking was canceled, following the contract's
// precedence: a missing event or employer, then the employer's limit, the
// event's limit, the slot's limit, and last a session id that is taken.
// DynamoDB need not report every failed condition of a transaction, so
// each counter before the first failed one is read again; counters only
// grow, so what the read shows was true when the booking was refused or
// became true since.
func (d *DB) bookingError(ctx context.Context, reasons []types.CancellationReason, s domain.Session, lim store.BookingLimits) error {
	first := slices.IndexFunc(reasons, func(r types.CancellationReason) bool {
		return aws.ToString(r.Code) == reasonConditionFailed
	})

	var emp employerItem
	ok, err := d.stateOf(ctx, reasons, bookEmployer, first, employerKey(s.EventID, s.EmployerID), &emp)
	if err != nil {
		return err
	}
	if !ok {
		if _, err := d.GetEvent(ctx, s.EventID); err != nil {
			return err
		}
		return fmt.Errorf("employer %s of event %s: %w", s.EmployerID, s.EventID, store.ErrNotFound)
	}
	if emp.SessionsBooked >= lim.MaxSessionsPerEmployer {
		return store.ErrEmployerLimit
	}

	var ev eventItem
	ok, err = d.stateOf(ctx, reasons, bookEvent, first, eventKey(s.EventID), &ev)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("event %s: %w", s.EventID, store.ErrNotFound)
	}
	if ev.SessionsBooked >= lim.MaxSessions {
		return store.ErrEventLimit
	}

	var slot slotItem
	if _, err := d.stateOf(ctx, reasons, bookSlot, first, slotKey(s.EventID, s.Start), &slot); err != nil {
		return err
	}
	if failed(reasons, bookSlot) || slot.Booked >= lim.SessionsPerSlot {
		return store.ErrSlotFull
	}
	if failed(reasons, bookSession) || failed(reasons, bookListing) {
		return store.ErrExists
	}
	return nil
}

// stateOf decodes item i of a canceled transaction into out: from the
// cancellation reason when that item failed and DynamoDB returned it, by a
// consistent read when the item comes before the first failed one or
// DynamoDB returned nothing, and not at all for items after the first
// failed one. It reports whether the item exists.
func (d *DB) stateOf(ctx context.Context, reasons []types.CancellationReason, i, first int, k key, out any) (bool, error) {
	if first >= 0 && i > first {
		return true, nil
	}
	if failed(reasons, i) && len(reasons[i].Item) > 0 {
		return d.decode(reasons[i].Item, out)
	}
	return d.get(ctx, k, out)
}

// ListEventSessions returns an event's sessions ordered by start, then id,
// each with its current Registered count. The listing items are read by a
// consistent query of the event's partition and the sessions by a
// consistent batch read, so every booking and registration that returned
// is seen.
func (d *DB) ListEventSessions(ctx context.Context, event domain.EventID) ([]domain.Session, error) {
	var keys []key
	err := d.queryPrefix(ctx, eventPK(event), prefixSession, true, func(item map[string]types.AttributeValue) error {
		var it eventSessionItem
		ok, err := d.decode(item, &it)
		if ok {
			keys = append(keys, sessionKey(domain.SessionID(it.SessionID)))
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dynamostore: list sessions of event %s: %w", event, err)
	}
	out := make([]domain.Session, 0, len(keys))
	err = d.batchGet(ctx, keys, func(item map[string]types.AttributeValue) error {
		var it sessionItem
		ok, err := d.decode(item, &it)
		if !ok || err != nil {
			return err
		}
		s, err := it.domain()
		if err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dynamostore: list sessions of event %s: %w", event, err)
	}
	slices.SortFunc(out, func(a, b domain.Session) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(string(a.ID), string(b.ID))
	})
	return out, nil
}

// SlotUsage returns how many sessions are booked in each slot of an event,
// keyed by the slot's start in UTC, read by a consistent query of the
// event's slot counters.
func (d *DB) SlotUsage(ctx context.Context, event domain.EventID) (map[time.Time]int, error) {
	usage := map[time.Time]int{}
	err := d.queryPrefix(ctx, eventPK(event), prefixSlot, true, func(item map[string]types.AttributeValue) error {
		var it slotItem
		ok, err := d.decode(item, &it)
		if !ok || err != nil || it.Booked <= 0 {
			return err
		}
		start, valid := slotStartOf(it.SK)
		if !valid {
			return fmt.Errorf("bad slot key %q", it.SK)
		}
		usage[start] = it.Booked
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dynamostore: slot usage of event %s: %w", event, err)
	}
	return usage, nil
}

// queryPrefix calls fn, in key order, for each item of the partition pk
// whose sort key begins with prefix, with strongly consistent reads when
// consistent is set (at twice the capacity).
func (d *DB) queryPrefix(ctx context.Context, pk, prefix string, consistent bool, fn func(map[string]types.AttributeValue) error) error {
	p := dynamodb.NewQueryPaginator(d.client, &dynamodb.QueryInput{
		TableName:              aws.String(d.table),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :prefix)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":     str(pk),
			":prefix": str(prefix),
		},
		ConsistentRead: aws.Bool(consistent),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, item := range page.Items {
			if err := fn(item); err != nil {
				return err
			}
		}
	}
	return nil
}

// maxBatchGet is the most keys one BatchGetItem call takes.
const maxBatchGet = 100

// batchGet calls fn for each existing item of keys, in no particular
// order, with strongly consistent reads. Keys that DynamoDB leaves
// unprocessed are asked again after a pause, a bounded number of times.
func (d *DB) batchGet(ctx context.Context, keys []key, fn func(map[string]types.AttributeValue) error) error {
	for chunk := range slices.Chunk(keys, maxBatchGet) {
		req := make([]map[string]types.AttributeValue, len(chunk))
		for i, k := range chunk {
			req[i] = keyAV(k)
		}
		pending := map[string]types.KeysAndAttributes{
			d.table: {Keys: req, ConsistentRead: aws.Bool(true)},
		}
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt >= d.maxAttempts {
				return fmt.Errorf("batch get: keys still unprocessed after %d attempts", attempt)
			}
			if attempt > 0 {
				if err := d.backoff(ctx, attempt); err != nil {
					return err
				}
			}
			res, err := d.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
			if err != nil {
				return err
			}
			for _, item := range res.Responses[d.table] {
				if err := fn(item); err != nil {
					return err
				}
			}
			pending = res.UnprocessedKeys
		}
	}
	return nil
}

// AddSpeaker appends user to a scheduled session's speakers with one
// conditional UpdateItem: the session exists, is not over, does not name
// user yet and names fewer than limit speakers. When the condition fails
// the item is read to say why.
func (d *DB) AddSpeaker(ctx context.Context, id domain.SessionID, user domain.UserID, limit int) (domain.Session, error) {
	res, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(d.table),
		Key:              keyAV(sessionKey(id)),
		UpdateExpression: aws.String("SET #sp = list_append(if_not_exists(#sp, :empty), :u)"),
		ConditionExpression: aws.String("attribute_exists(PK) AND NOT (#status IN (:ended, :expired))" +
			" AND (attribute_not_exists(#sp) OR (size(#sp) < :lim AND NOT contains(#sp, :user)))"),
		ExpressionAttributeNames: map[string]string{"#sp": attrSpeakers, "#status": attrStatus},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":empty":   &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
			":u":       &types.AttributeValueMemberL{Value: []types.AttributeValue{str(string(user))}},
			":user":    str(string(user)),
			":lim":     num(limit),
			":ended":   str(string(domain.StatusEnded)),
			":expired": str(string(domain.StatusExpired)),
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		s, ok, rerr := d.session(ctx, id)
		switch {
		case rerr != nil:
			return domain.Session{}, fmt.Errorf("dynamostore: add speaker %s to %s: %w", user, id, rerr)
		case !ok:
			return domain.Session{}, fmt.Errorf("dynamostore: add speaker %s to %s: %w", user, id, store.ErrNotFound)
		case s.IsSpeaker(user):
			return s, nil
		case s.Status.Over():
			return domain.Session{}, fmt.Errorf("dynamostore: add speaker %s to %s: %w", user, id, store.ErrSessionOver)
		default:
			return domain.Session{}, fmt.Errorf("dynamostore: add speaker %s to %s: %w", user, id, store.ErrSpeakersFull)
		}
	}
	if err != nil {
		return domain.Session{}, fmt.Errorf("dynamostore: add speaker %s to %s: %w", user, id, err)
	}
	var it sessionItem
	if _, err := d.decode(res.Attributes, &it); err != nil {
		return domain.Session{}, fmt.Errorf("dynamostore: add speaker %s to %s: %w", user, id, err)
	}
	s, err := it.domain()
	if err != nil {
		return domain.Session{}, fmt.Errorf("dynamostore: add speaker %s to %s: %w", user, id, err)
	}
	return s, nil
}

// maxRemoveSpeakerAttempts bounds the reads and conditional writes of one
// RemoveSpeaker while other writes move the list under it.
const maxRemoveSpeakerAttempts = 8

// RemoveSpeaker takes user off a scheduled session's speakers. A list
// element is removed by its index, so it reads the session, then removes
// the element with a conditional UpdateItem that holds only while that
// index still names user and the session is not over; when the list
// moved in between, it reads again.
func (d *DB) RemoveSpeaker(ctx context.Context, id domain.SessionID, user domain.UserID) (domain.Session, error) {
	wrap := func(err error) error { return fmt.Errorf("dynamostore: remove speaker %s from %s: %w", user, id, err) }
	for range maxRemoveSpeakerAttempts {
		s, ok, err := d.session(ctx, id)
		switch {
		case err != nil:
			return domain.Session{}, wrap(err)
		case !ok:
			return domain.Session{}, wrap(store.ErrNotFound)
		case s.Status.Over():
			return domain.Session{}, wrap(store.ErrSessionOver)
		}
		i := slices.Index(s.Speakers, user)
		if i < 0 {
			return domain.Session{}, wrap(store.ErrNotSpeaker)
		}
		el := fmt.Sprintf("#sp[%d]", i)
		res, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                aws.String(d.table),
			Key:                      keyAV(sessionKey(id)),
			UpdateExpression:         aws.String("REMOVE " + el),
			ConditionExpression:      aws.String("attribute_exists(PK) AND NOT (#status IN (:ended, :expired)) AND " + el + " = :user"),
			ExpressionAttributeNames: map[string]string{"#sp": attrSpeakers, "#status": attrStatus},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":user":    str(string(user)),
				":ended":   str(string(domain.StatusEnded)),
				":expired": str(string(domain.StatusExpired)),
			},
			ReturnValues: types.ReturnValueAllNew,
		})
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			continue
		}
		if err != nil {
			return domain.Session{}, wrap(err)
		}
		var it sessionItem
		if _, err := d.decode(res.Attributes, &it); err != nil {
			return domain.Session{}, wrap(err)
		}
		out, err := it.domain()
		if err != nil {
			return domain.Session{}, wrap(err)
		}
		return out, nil
	}
	return domain.Session{}, wrap(store.ErrContention)
}
