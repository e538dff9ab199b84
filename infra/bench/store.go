package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
	"github.com/greenroom-live/greenroom/shared/store/boltstore"
	"github.com/greenroom-live/greenroom/shared/store/dynamostore"
	"github.com/greenroom-live/greenroom/shared/store/storetest"
)

// endpointEnv names the DynamoDB Local endpoint; .ci/dynamodb-local.sh
// run sets it.
const endpointEnv = "GREENROOM_DYNAMODB_ENDPOINT"

// runStore measures registrations under contention: in each round, users
// distinct users race for capacity spots of a fresh session, through
// storetest.MeasureContention, which also checks that exactly capacity
// of them got one. A first warm-up round is not counted.
func runStore(ctx context.Context, out io.Writer, args []string) (err error) {
	fs := flag.NewFlagSet("store", flag.ContinueOnError)
	dynamo := fs.Bool("dynamodb", false, "measure DynamoDB Local at $"+endpointEnv+" instead of the embedded store")
	rounds := fs.Int("rounds", 5, "measured rounds, after one warm-up round")
	users := fs.Int("users", 200, "users racing in each round")
	capacity := fs.Int("capacity", 50, "spots in each round's session")
	timeout := fs.Duration("timeout", 2*time.Minute, "bound on the whole measurement")
	if err = fs.Parse(args); err != nil {
		return err
	}
	if *rounds < 1 {
		return errors.New("-rounds must be at least 1")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	name := "embedded (bbolt)"
	st, closeStore, err := openEmbedded()
	if *dynamo {
		name = "DynamoDB Local"
		st, closeStore, err = openDynamo(ctx)
	}
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, closeStore()) }()

	fmt.Fprintf(out, "== store %s: %d users racing for %d spots, %d rounds after a warm-up\n", name, *users, *capacity, *rounds)
	if _, werr := storetest.MeasureContention(ctx, st, *users, *capacity, *users); werr != nil {
		return fmt.Errorf("warm-up: %w", werr)
	}
	var rates []float64
	var p50s, p99s []time.Duration
	for i := range *rounds {
		r, rerr := storetest.MeasureContention(ctx, st, *users, *capacity, *users)
		if rerr != nil {
			return fmt.Errorf("round %d: %w", i+1, rerr)
		}
		fmt.Fprintf(out, "store %-16s round %d: %4.0f registrations/s  p50 %s  p99 %s  (%d registered, %d session_full, %s)\n",
			name, i+1, r.PerSecond, ms(r.P50), ms(r.P99), r.Registered, r.Full, ms(r.Elapsed))
		rates = append(rates, r.PerSecond)
		p50s = append(p50s, r.P50)
		p99s = append(p99s, r.P99)
	}
	slices.Sort(rates)
	slices.Sort(p50s)
	slices.Sort(p99s)
	mid := len(rates) / 2
	fmt.Fprintf(out, "store %-16s median of %d rounds: %.0f registrations/s  p50 %s  p99 %s\n",
		name, len(rates), rates[mid], ms(p50s[mid]), ms(p99s[mid]))
	return nil
}

// openEmbedded opens a bbolt store in a fresh temporary directory, which
// closing removes.
func openEmbedded() (store.Store, func() error, error) {
	dir, err := os.MkdirTemp("", "greenroom-bench-")
	if err != nil {
		return nil, nil, err
	}
	db, err := boltstore.Open(filepath.Join(dir, "bench.db"))
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, nil, err
	}
	return db, func() error { return errors.Join(db.Close(), os.RemoveAll(dir)) }, nil
}

// openDynamo creates a table of its own in DynamoDB Local; closing
// deletes it.
func openDynamo(ctx context.Context) (store.Store, func() error, error) {
	endpoint := os.Getenv(endpointEnv)
	if endpoint == "" {
		return nil, nil, fmt.Errorf("%s is not set: run under `bash .ci/dynamodb-local.sh run -- …`", endpointEnv)
	}
	client := dynamostore.LocalClient(endpoint)
	table := "greenroom-bench-" + domain.NewID(8)
	if err := dynamostore.CreateTable(ctx, client, table); err != nil {
		return nil, nil, err
	}
	drop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return dynamostore.DeleteTable(ctx, client, table)
	}
	return dynamostore.New(client, table), drop, nil
}
