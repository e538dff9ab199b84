package lambdaenv

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/greenroom-live/greenroom/shared/fanout"
	"github.com/greenroom-live/greenroom/shared/store/dynamostore"
)

// Store returns the DynamoDB store on the table named in GREENROOM_TABLE.
func Store(cfg aws.Config) (*dynamostore.DB, error) {
	table, err := Require("GREENROOM_TABLE")
	if err != nil {
		return nil, err
	}
	return dynamostore.New(dynamodb.NewFromConfig(cfg), table), nil
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
	})
	n, err := fanout.New(fanout.Config{Client: client, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("lambdaenv: notifier: %w", err)
	}
	return n, nil
}
