// Command scheduler is the Lambda function EventBridge runs every minute:
// one idempotent sweep of the rules of time (shared/scheduler).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/groupfeed"
	"github.com/greenroom-live/greenroom/shared/lambdaenv"
	"github.com/greenroom-live/greenroom/shared/scheduler"
	"github.com/greenroom-live/greenroom/shared/wsapi"
)

func main() {
	log := lambdaenv.Logger()
	s, err := newScheduler(context.Background())
	if err != nil {
		log.Error("cold start failed", "err", err)
		os.Exit(1)
	}
	lambda.Start(func(ctx context.Context, _ events.EventBridgeEvent) (scheduler.Result, error) {
		return s.Sweep(ctx)
	})
}

func newScheduler(ctx context.Context) (*scheduler.Scheduler, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	log := lambdaenv.Logger()
	st, err := lambdaenv.Store(cfg)
	if err != nil {
		return nil, err
	}
	notifier, err := lambdaenv.Notifier(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	clock := domain.SystemClock{}
	med, err := lambdaenv.Media(ctx, secretsmanager.NewFromConfig(cfg), st, clock, log)
	if err != nil {
		return nil, err
	}
	groups, err := groupfeed.New(groupfeed.Config{Store: st, Sender: notifier, Clock: clock, Logger: log})
	if err != nil {
		return nil, err
	}
	live, err := wsapi.New(wsapi.Config{Store: st, Sender: notifier, Media: med, Groups: groups, Clock: clock, Logger: log})
	if err != nil {
		return nil, err
	}
	return scheduler.New(scheduler.Config{Store: st, Sessions: live, Media: med, Clock: clock, Logger: log})
}
