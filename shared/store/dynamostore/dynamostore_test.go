package dynamostore_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
	"github.com/greenroom-live/greenroom/shared/store/dynamostore"
	"github.com/greenroom-live/greenroom/shared/store/storetest"
)

// endpointEnv names the DynamoDB Local endpoint the tests run against;
// .ci/dynamodb-local.sh run sets it.
const endpointEnv = "GREENROOM_DYNAMODB_ENDPOINT"

// localClient returns a client for the endpoint in endpointEnv, or skips
// the test when it is not set.
func localClient(tb testing.TB) *dynamodb.Client {
	tb.Helper()
	endpoint := os.Getenv(endpointEnv)
	if endpoint == "" {
		tb.Skipf("%s is not set: run under `bash .ci/dynamodb-local.sh run -- go test ./shared/store/dynamostore/` to test against DynamoDB Local", endpointEnv)
	}
	return dynamostore.LocalClient(endpoint)
}

// newTable creates a table with a fresh name and deletes it when the test
// ends.
func newTable(tb testing.TB, client *dynamodb.Client) string {
	tb.Helper()
	name := "greenroom-test-" + domain.NewID(12)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := dynamostore.CreateTable(ctx, client, name); err != nil {
		tb.Fatalf("CreateTable: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := dynamostore.DeleteTable(ctx, client, name); err != nil {
			tb.Errorf("DeleteTable: %v", err)
		}
	})
	return name
}

// TestContract runs the store contract suite against DynamoDB Local, each
// subtest in a table of its own.
func TestContract(t *testing.T) {
	client := localClient(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return dynamostore.New(client, newTable(t, client))
	})
}

// TestEnsureTable checks that EnsureTable makes a missing table and
// leaves an existing one, with its items, as it is.
func TestEnsureTable(t *testing.T) {
	client := localClient(t)
	ctx := t.Context()
	name := "greenroom-test-" + domain.NewID(12)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := dynamostore.DeleteTable(ctx, client, name); err != nil {
			t.Errorf("DeleteTable: %v", err)
		}
	})
	if err := dynamostore.EnsureTable(ctx, client, name); err != nil {
		t.Fatalf("EnsureTable of a missing table: %v", err)
	}
	db := dynamostore.New(client, name)
	u := domain.User{ID: "u1", Name: "Ada", CreatedAt: time.Date(2030, time.May, 6, 9, 0, 0, 0, time.UTC)}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if err := dynamostore.EnsureTable(ctx, client, name); err != nil {
		t.Fatalf("EnsureTable of an existing table: %v", err)
	}
	if got, err := db.GetUser(ctx, u.ID); err != nil || got != u {
		t.Fatalf("GetUser after EnsureTable = %+v, %v; want %+v", got, err, u)
	}
}

// TestExpiredItemsAreGone checks that an item whose TTL has passed reads
// as missing, since DynamoDB Local never deletes it and AWS only
// eventually does.
func TestExpiredItemsAreGone(t *testing.T) {
	client := localClient(t)
	table := newTable(t, client)
	now := time.Date(2030, time.May, 6, 9, 0, 0, 0, time.UTC)
	clock := domain.NewManualClock(now)
	db := dynamostore.New(client, table, dynamostore.WithClock(clock))
	ctx := t.Context()

	sess, err := domain.NewHostedSession(domain.KindInstant, "host", "Office hours", "", now)
	if err != nil {
		t.Fatalf("NewHostedSession: %v", err)
	}
	if err := db.CreateSession(ctx, sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	// Give the stored session a TTL one minute ahead, as the scheduler
	// would for an abandoned instant session.
	ttl, err := attributevalue.Marshal(now.Add(time.Minute).Unix())
	if err != nil {
		t.Fatalf("marshal ttl: %v", err)
	}
	sk, _ := attributevalue.Marshal("META")
	pk, _ := attributevalue.Marshal("SESSION#" + string(sess.ID))
	_, err = client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(table),
		Key:                       map[string]types.AttributeValue{"PK": pk, "SK": sk},
		UpdateExpression:          aws.String("SET #ttl = :ttl"),
		ExpressionAttributeNames:  map[string]string{"#ttl": "ttl"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":ttl": ttl},
	})
	if err != nil {
		t.Fatalf("UpdateItem: %v", err)
	}

	if _, err := db.GetSession(ctx, sess.ID); err != nil {
		t.Fatalf("GetSession before its TTL: %v", err)
	}
	if _, _, err := db.Register(ctx, domain.Registration{SessionID: sess.ID, UserID: "u1", CreatedAt: now}); err != nil {
		t.Fatalf("Register before its TTL: %v", err)
	}
	clock.Advance(time.Minute)
	if _, err := db.GetSession(ctx, sess.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetSession after its TTL: %v, want ErrNotFound", err)
	}
	if _, _, err := db.Register(ctx, domain.Registration{SessionID: sess.ID, UserID: "u2", CreatedAt: now}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Register after its TTL: %v, want ErrNotFound", err)
	}
}

// BenchmarkRegisterContention measures registrations racing for one
// session on DynamoDB Local: 200 users, 50 spots, 200 goroutines. It
// reports Register calls answered per second and the p50 and p99 latency
// of one call; these are figures, not pass/fail thresholds.
func BenchmarkRegisterContention(b *testing.B) {
	const users, capacity, workers = 200, 50, 200
	client := localClient(b)
	db := dynamostore.New(client, newTable(b, client))
	var res storetest.Result
	var total time.Duration
	var p50, p99 time.Duration
	for b.Loop() {
		r, err := storetest.MeasureContention(b.Context(), db, users, capacity, workers)
		if err != nil {
			b.Fatalf("MeasureContention: %v", err)
		}
		res = r
		total += r.Elapsed
		p50 += r.P50
		p99 += r.P99
	}
	n := float64(b.N)
	b.ReportMetric(float64(users)*n/total.Seconds(), "register-calls/s")
	b.ReportMetric(float64(p50.Milliseconds())/n, "p50-ms")
	b.ReportMetric(float64(p99.Milliseconds())/n, "p99-ms")
	b.Logf("last run (%d users, %d spots, %d goroutines): %v", users, capacity, workers, res)
}

// TestCapacityOfALiveSession checks what DynamoDB says the messages of a
// crowd cost (ReturnConsumedCapacity): a member's own change is one
// write of its own item (1 WCU for an item under 1 KB), and the read
// behind a state of 50 members and 20 questions stays within 10 RCU.
// They are the cost of the item layout, not timings.
func TestCapacityOfALiveSession(t *testing.T) {
	client := localClient(t)
	var mu sync.Mutex
	var calls []dynamostore.Usage
	meter := func(u dynamostore.Usage) {
		mu.Lock()
		calls = append(calls, u)
		mu.Unlock()
	}
	spent := func(do func()) (rcu, wcu float64, n int) {
		mu.Lock()
		calls = nil
		mu.Unlock()
		do()
		mu.Lock()
		defer mu.Unlock()
		for _, u := range calls {
			rcu, wcu = rcu+u.RCU, wcu+u.WCU
		}
		return rcu, wcu, len(calls)
	}
	db := dynamostore.New(dynamostore.MeterClient(client, meter), newTable(t, client))
	ctx := t.Context()
	at := time.Date(2030, time.May, 6, 9, 0, 0, 0, time.UTC)
	sess, err := domain.NewHostedSession(domain.KindPrimetime, "host", "Crowd", "", at)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	var users []domain.UserID
	for i := range 50 {
		u := domain.UserID("u" + domain.NewID(15))
		users = append(users, u)
		_, err := db.Update(ctx, sess.ID, store.Load{Members: []domain.UserID{u}}, func(x *domain.Session) error {
			if _, err := x.Admit(domain.Joiner{UserID: u, Name: "Member " + strconv.Itoa(i), Device: domain.DeviceWeb}, at); err != nil {
				return err
			}
			_, err := x.Connect(u, domain.ConnectionID(domain.NewID(16)), at)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		_, err := db.Update(ctx, sess.ID, store.Load{Members: users[i : i+1]}, func(x *domain.Session) error {
			_, err := x.Ask(users[i], "q"+strconv.Itoa(i), "What does a question of about this length cost to keep, "+strconv.Itoa(i)+"?", at)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	_, wcu, n := spent(func() {
		if _, err := db.Update(ctx, sess.ID, store.Load{Members: users[:1]}, func(x *domain.Session) error {
			_, err := x.SetDevices(users[0], true, true)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("devices: %.1f WCU in %d calls", wcu, n)
	if wcu != 1 {
		t.Errorf("a member's devices cost %.1f WCU, want 1 (its own item, once)", wcu)
	}

	rcu, wcu, n := spent(func() {
		if _, err := db.ReadSession(ctx, sess.ID, store.Load{AllMembers: true, AllQuestions: true, VotesOf: users[0]}); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("state read: %.1f RCU in %d calls", rcu, n)
	if rcu > 9 || wcu != 0 {
		t.Errorf("the read behind a state costs %.1f RCU and %.1f WCU, want at most 9 (10 with the connection) and none", rcu, wcu)
	}
}
