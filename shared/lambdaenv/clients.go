package lambdaenv

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/fanout"
	"github.com/greenroom-live/greenroom/shared/media"
	"github.com/greenroom-live/greenroom/shared/store/dynamostore"
)

// Store returns the DynamoDB store on the table named in GREENROOM_TABLE.
// Its client retries as the SDK's standard retryer does (three attempts,
// jittered backoff) but without the client-side retry quota
// (dynamostore.Retryer says why).
func Store(cfg aws.Config) (*dynamostore.DB, error) {
	table, err := Require("GREENROOM_TABLE")
	if err != nil {
		return nil, err
	}
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.Retryer = dynamostore.Retryer() })
	return dynamostore.New(client, table), nil
}

// Notifier returns the fan-out through the WebSocket API's management
// endpoint named in GREENROOM_WS_ENDPOINT
// (https://{api-id}.execute-api.{region}.amazonaws.com/{stage}).
func Notifier(_ context.Context, cfg aws.Config, log *slog.Logger) (*fanout.Notifier, error) {
	endpoint, err := Require("GREENROOM_WS_ENDPOINT")
	if err != nil {
		return nil, err
	}
	client := apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.HTTPClient = fanout.HTTPClient()
	})
	n, err := fanout.New(fanout.Config{Client: client, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("lambdaenv: notifier: %w", err)
	}
	return n, nil
}

// Media returns the client of the SFU workers' control API, with the
// workers' shared secret read from the Secrets Manager secret named in
// GREENROOM_WORKER_SECRET_SECRET.
func Media(ctx context.Context, sm SecretGetter, st *dynamostore.DB, clock domain.Clock, log *slog.Logger) (*media.Media, error) {
	secret, err := Secret(ctx, sm, "GREENROOM_WORKER_SECRET_SECRET")
	if err != nil {
		return nil, err
	}
	m, err := media.New(media.Config{Store: st, Secret: secret, Clock: clock, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("lambdaenv: media: %w", err)
	}
	return m, nil
}
