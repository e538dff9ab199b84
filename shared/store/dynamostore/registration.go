package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// The items of a registration transaction.
const (
	regItem = iota
	regSession
)

// Register holds a spot for r.UserID in r.SessionID in one transaction:
// the registration is written unless it exists, and the session's
// counter grows only while it is below the capacity and the session is
// neither over nor expired. A repeat returns the stored registration with
// created=false and counts once.
func (d *DB) Register(ctx context.Context, r domain.Registration) (domain.Registration, bool, error) {
	put, err := d.putNew(toRegistrationItem(r))
	if err != nil {
		return domain.Registration{}, false, fmt.Errorf("dynamostore: register %s in %s: %w", r.UserID, r.SessionID, err)
	}
	items := make([]types.TransactWriteItem, 2)
	items[regItem] = put
	items[regSession] = types.TransactWriteItem{Update: &types.Update{
		TableName:        aws.String(d.table),
		Key:              keyAV(sessionKey(r.SessionID)),
		UpdateExpression: aws.String("SET #reg = #reg + :one"),
		ConditionExpression: aws.String("attribute_exists(PK) AND #reg < #cap" +
			" AND NOT (#status IN (:ended, :expired))" +
			" AND (attribute_not_exists(#ttl) OR #ttl > :now)"),
		ExpressionAttributeNames: map[string]string{
			"#reg": attrRegistered, "#cap": attrCapacity, "#status": attrStatus, "#ttl": attrTTL,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one":     num(1),
			":ended":   str(string(domain.StatusEnded)),
			":expired": str(string(domain.StatusExpired)),
			":now":     &types.AttributeValueMemberN{Value: strconv.FormatInt(d.clock.Now().Unix(), 10)},
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}

	// A registration found to exist can be cancelled before it is read
	// back; then the spot is asked for again.
	for range d.maxAttempts {
		reasons, err := d.transact(ctx, items)
		if err == nil {
			return r, true, nil
		}
		if !errors.Is(err, errCanceled) {
			return domain.Registration{}, false, fmt.Errorf("dynamostore: register %s in %s: %w", r.UserID, r.SessionID, err)
		}
		if failed(reasons, regItem) {
			var it registrationItem
			ok, err := d.stateOf(ctx, reasons, regItem, regItem, registrationKey(r.SessionID, r.UserID), &it)
			if err != nil {
				return domain.Registration{}, false, fmt.Errorf("dynamostore: register %s in %s: %w", r.UserID, r.SessionID, err)
			}
			if ok {
				return it.domain(), false, nil
			}
			continue
		}
		return domain.Registration{}, false, fmt.Errorf("dynamostore: register %s in %s: %w", r.UserID, r.SessionID, d.registerError(ctx, reasons, r.SessionID))
	}
	return domain.Registration{}, false, fmt.Errorf("dynamostore: register %s in %s: registration keeps vanishing", r.UserID, r.SessionID)
}

// registerError tells why the session refused a registration: it does not
// exist (or its TTL passed), it is over, or it is full.
func (d *DB) registerError(ctx context.Context, reasons []types.CancellationReason, id domain.SessionID) error {
	var it sessionItem
	ok, err := d.stateOf(ctx, reasons, regSession, regSession, sessionKey(id), &it)
	switch {
	case err != nil:
		return err
	case !ok:
		return store.ErrNotFound
	case domain.Status(it.Status).Over():
		return store.ErrSessionOver
	default:
		return store.ErrSessionFull
	}
}

// GetRegistration returns a user's registration, or store.ErrNotFound.
func (d *DB) GetRegistration(ctx context.Context, session domain.SessionID, user domain.UserID) (domain.Registration, error) {
	var it registrationItem
	ok, err := d.get(ctx, registrationKey(session, user), &it)
	if err != nil {
		return domain.Registration{}, fmt.Errorf("dynamostore: get registration of %s in %s: %w", user, session, err)
	}
	if !ok {
		return domain.Registration{}, fmt.Errorf("dynamostore: get registration of %s in %s: %w", user, session, store.ErrNotFound)
	}
	return it.domain(), nil
}

// CancelRegistration removes a user's registration and frees its spot in
// one transaction; store.ErrNotFound when there is none.
func (d *DB) CancelRegistration(ctx context.Context, session domain.SessionID, user domain.UserID) error {
	items := make([]types.TransactWriteItem, 2)
	items[regItem] = types.TransactWriteItem{Delete: &types.Delete{
		TableName:           aws.String(d.table),
		Key:                 keyAV(registrationKey(session, user)),
		ConditionExpression: aws.String("attribute_exists(PK)"),
	}}
	items[regSession] = types.TransactWriteItem{Update: &types.Update{
		TableName:                 aws.String(d.table),
		Key:                       keyAV(sessionKey(session)),
		UpdateExpression:          aws.String("SET #reg = #reg - :one"),
		ConditionExpression:       aws.String("attribute_exists(PK) AND #reg > :zero"),
		ExpressionAttributeNames:  map[string]string{"#reg": attrRegistered},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": num(1), ":zero": num(0)},
	}}
	reasons, err := d.transact(ctx, items)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, errCanceled):
		return fmt.Errorf("dynamostore: cancel registration of %s in %s: %w", user, session, err)
	case failed(reasons, regItem):
		return fmt.Errorf("dynamostore: cancel registration of %s in %s: %w", user, session, store.ErrNotFound)
	default:
		// The registration exists but its session does not, or counts
		// none: the table was changed behind the store's back.
		return fmt.Errorf("dynamostore: cancel registration of %s in %s: session missing or counting no registration", user, session)
	}
}
