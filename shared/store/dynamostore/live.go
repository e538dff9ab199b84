package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// UpdateSession applies fn to the session by compare-and-swap: a
// consistent read, fn on a copy of what was read, then one UpdateItem
// that writes status, presenterId, live, version+1 and the session's
// place in the due list, on condition that version and registered are
// still what was read. Register and CancelRegistration change registered
// with conditions of their own and never touch version; UpdateSession
// never writes registered, so neither overwrites the other, and a change
// of registered in between (which fn may have counted on, as Admit does)
// makes the swap fail like a change of version. A failed swap is tried
// again with a fresh read after a jittered pause, up to the DB's
// attempts, then store.ErrContention.
func (d *DB) UpdateSession(ctx context.Context, id domain.SessionID, fn func(*domain.Session) error) (domain.Session, error) {
	for attempt := range d.maxAttempts {
		if attempt > 0 {
			if err := d.backoff(ctx, attempt); err != nil {
				return domain.Session{}, fmt.Errorf("dynamostore: update session %s after %d attempts: %w", id, attempt, err)
			}
		}
		var it sessionItem
		ok, err := d.get(ctx, sessionKey(id), &it)
		if err != nil {
			return domain.Session{}, fmt.Errorf("dynamostore: update session %s: %w", id, err)
		}
		if !ok {
			return domain.Session{}, fmt.Errorf("dynamostore: update session %s: %w", id, store.ErrNotFound)
		}
		// Two decodings give fn a deep copy: what it changes, even when
		// it fails half way, cannot reach the session as read.
		read, err := it.domain()
		if err != nil {
			return domain.Session{}, fmt.Errorf("dynamostore: update session %s: %w", id, err)
		}
		work, err := it.domain()
		if err != nil {
			return domain.Session{}, fmt.Errorf("dynamostore: update session %s: %w", id, err)
		}
		if err := fn(&work); err != nil {
			return read, fmt.Errorf("dynamostore: update session %s: %w", id, err)
		}
		out := read
		out.Status, out.PresenterID, out.Live = work.Status, work.PresenterID, work.Live
		out.Version = read.Version + 1
		in, err := d.swapSession(out, read)
		if err != nil {
			return domain.Session{}, fmt.Errorf("dynamostore: update session %s: %w", id, err)
		}
		_, err = d.client.UpdateItem(ctx, in)
		if err == nil {
			return out, nil
		}
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			return domain.Session{}, fmt.Errorf("dynamostore: update session %s: %w", id, err)
		}
	}
	return domain.Session{}, fmt.Errorf("dynamostore: update session %s: %d attempts: %w", id, d.maxAttempts, store.ErrContention)
}

// swapSession is the conditional write of UpdateSession: it stores what
// fn may change in out, provided the item still holds read's version and
// registration count.
func (d *DB) swapSession(out, read domain.Session) (*dynamodb.UpdateItemInput, error) {
	live, err := encodeLive(out.Live)
	if err != nil {
		return nil, err
	}
	names := map[string]string{
		"#status": attrStatus, "#live": attrLive, "#version": attrVersion,
		"#reg": attrRegistered, "#presenter": attrPresenterID,
		"#gpk": attrGSI1PK, "#gsk": attrGSI1SK,
	}
	values := map[string]types.AttributeValue{
		":status": str(string(out.Status)),
		":live":   str(live),
		":new":    num64(out.Version),
		":old":    num64(read.Version),
		":reg":    num(read.Registered),
	}
	set := "SET #status = :status, #live = :live, #version = :new"
	var remove []string
	if out.PresenterID != "" {
		set += ", #presenter = :presenter"
		values[":presenter"] = str(string(out.PresenterID))
	} else {
		remove = append(remove, "#presenter")
	}
	if due := out.NextDue(); !due.IsZero() {
		ik := dueIndexKey(due, out.ID)
		set += ", #gpk = :gpk, #gsk = :gsk"
		values[":gpk"], values[":gsk"] = str(ik.PK), str(ik.SK)
	} else {
		remove = append(remove, "#gpk", "#gsk")
	}
	expr := set
	for i, r := range remove {
		if i == 0 {
			expr += " REMOVE "
		} else {
			expr += ", "
		}
		expr += r
	}
	return &dynamodb.UpdateItemInput{
		TableName:                 aws.String(d.table),
		Key:                       keyAV(sessionKey(out.ID)),
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String("#version = :old AND #reg = :reg"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}, nil
}

func num64(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// pageSize is the Limit of one page of a query that wants limit items:
// at least 1, at most what Limit takes.
func pageSize(limit int) *int32 {
	return aws.Int32(int32(min(max(limit, 1), math.MaxInt32)))
}

// DueSessions returns up to limit sessions whose NextDue is not after
// now, earliest first (then by id), from the due list in GSI1. The index
// is eventually consistent: a session may show up a moment late, or at
// its previous due time, which the scheduler tolerates (see keys.go).
// Sessions that are over are skipped, should the index lag behind their
// end.
func (d *DB) DueSessions(ctx context.Context, now time.Time, limit int) ([]domain.SessionID, error) {
	out := []domain.SessionID{}
	if limit <= 0 {
		return out, nil
	}
	err := d.queryIndex(ctx, gsiDue, indexUpTo(now), limit, func(item map[string]types.AttributeValue) (bool, error) {
		var it dueItem
		ok, err := d.decode(item, &it)
		if err != nil {
			return false, err
		}
		if ok && !domain.Status(it.Status).Over() {
			out = append(out, domain.SessionID(it.ID))
		}
		return len(out) < limit, nil
	})
	if err != nil {
		return nil, fmt.Errorf("dynamostore: due sessions at %s: %w", now.UTC().Format(time.RFC3339), err)
	}
	return out, nil
}

// queryIndex calls fn, in GSI1SK order, for each item of the GSI1
// partition pk whose GSI1SK is below upTo, until fn returns false or the
// items run out. Pages ask for limit items, the most the caller needs
// when fn keeps them all.
func (d *DB) queryIndex(ctx context.Context, pk, upTo string, limit int, fn func(map[string]types.AttributeValue) (bool, error)) error {
	p := dynamodb.NewQueryPaginator(d.client, &dynamodb.QueryInput{
		TableName:              aws.String(d.table),
		IndexName:              aws.String(indexGSI1),
		KeyConditionExpression: aws.String("#pk = :pk AND #sk < :upTo"),
		ExpressionAttributeNames: map[string]string{
			"#pk": attrGSI1PK, "#sk": attrGSI1SK,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":   str(pk),
			":upTo": str(upTo),
		},
		Limit: pageSize(limit),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, item := range page.Items {
			more, err := fn(item)
			if err != nil || !more {
				return err
			}
		}
	}
	return nil
}
