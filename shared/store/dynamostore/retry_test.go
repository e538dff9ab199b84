package dynamostore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// conflictingClient cancels the first conflicts transactions it is given
// for a conflict with another transaction, as DynamoDB does under
// contention, then answers with then. DynamoDB Local serializes
// transactions and never reports a conflict, so this hand-written fake is
// the only way to drive the retry path here.
type conflictingClient struct {
	Client
	conflicts int
	then      error
	calls     int
}

func (c *conflictingClient) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.calls++
	if c.calls <= c.conflicts {
		reasons := make([]types.CancellationReason, len(in.TransactItems))
		for i := range reasons {
			reasons[i].Code = aws.String("None")
		}
		reasons[len(reasons)-1].Code = aws.String(reasonConflict)
		return nil, &types.TransactionCanceledException{Message: aws.String("conflict"), CancellationReasons: reasons}
	}
	if c.then != nil {
		return nil, c.then
	}
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

func TestTransactRetriesConflicts(t *testing.T) {
	reg := domain.Registration{SessionID: "s", UserID: "u"}
	cases := []struct {
		name      string
		conflicts int
		attempts  int
		then      error
		wantErr   bool
		wantCalls int
	}{
		{name: "NoConflict", conflicts: 0, attempts: 5, wantCalls: 1},
		{name: "SomeConflicts", conflicts: 4, attempts: 5, wantCalls: 5},
		{name: "TooManyConflicts", conflicts: 5, attempts: 5, wantErr: true, wantCalls: 5},
		{name: "OtherErrorNotRetried", conflicts: 1, attempts: 5, then: errors.New("boom"), wantErr: true, wantCalls: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &conflictingClient{conflicts: tc.conflicts, then: tc.then}
			d := New(c, "table", WithMaxAttempts(tc.attempts))
			d.baseBackoff, d.maxBackoff = time.Microsecond, time.Microsecond
			_, created, err := d.Register(t.Context(), reg)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Register succeeded, want an error")
				}
				for _, s := range []error{store.ErrSessionFull, store.ErrNotFound, store.ErrSessionOver} {
					if errors.Is(err, s) {
						t.Fatalf("Register: %v, must not claim %v", err, s)
					}
				}
			} else if err != nil || !created {
				t.Fatalf("Register = created %v, %v; want created", created, err)
			}
			if c.calls != tc.wantCalls {
				t.Fatalf("TransactWriteItems called %d times, want %d", c.calls, tc.wantCalls)
			}
		})
	}
}

func TestTransactStopsWithContext(t *testing.T) {
	c := &conflictingClient{conflicts: 1 << 30}
	d := New(c, "table")
	d.baseBackoff, d.maxBackoff = time.Hour, time.Hour
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, _, err := d.Register(ctx, domain.Registration{SessionID: "s", UserID: "u"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Register with a canceled context: %v, want context.Canceled", err)
	}
	if c.calls != 1 {
		t.Fatalf("TransactWriteItems called %d times, want 1", c.calls)
	}
}
