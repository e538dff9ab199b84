// Command ws is the WebSocket API's Lambda function: one function serves
// $connect, $disconnect and $default, so a warm instance answers all three
// (a faster join than three cold starts). It only wires; the handlers live
// in shared/wsapi, which the local runner hosts too.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/greenroom-live/greenroom/shared/auth"
	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/groupfeed"
	"github.com/greenroom-live/greenroom/shared/lambdaenv"
	"github.com/greenroom-live/greenroom/shared/wsapi"
)

func main() {
	log := lambdaenv.Logger()
	h, err := newHandler(context.Background())
	if err != nil {
		log.Error("cold start failed", "err", err)
		os.Exit(1)
	}
	lambda.Start(route(h))
}

func newHandler(ctx context.Context) (*wsapi.Handler, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	log := lambdaenv.Logger()
	st, err := lambdaenv.Store(cfg)
	if err != nil {
		return nil, err
	}
	sm := secretsmanager.NewFromConfig(cfg)
	key, err := lambdaenv.Secret(ctx, sm, "GREENROOM_TOKEN_KEY_SECRET")
	if err != nil {
		return nil, err
	}
	clock := domain.SystemClock{}
	tokens, err := auth.NewIssuer(auth.Config{Key: []byte(key), Clock: clock})
	if err != nil {
		return nil, err
	}
	notifier, err := lambdaenv.Notifier(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	med, err := lambdaenv.Media(ctx, sm, st, clock, log)
	if err != nil {
		return nil, err
	}
	groups, err := groupfeed.New(groupfeed.Config{Store: st, Sender: notifier, Clock: clock, Logger: log})
	if err != nil {
		return nil, err
	}
	return wsapi.New(wsapi.Config{Store: st, Tokens: tokens, Sender: notifier, Media: med, Groups: groups, Clock: clock, Logger: log})
}

// route dispatches on the route key of the WebSocket API.
func route(h *wsapi.Handler) func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	return func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		switch ev.RequestContext.RouteKey {
		case "$connect":
			return h.Connect(ctx, ev)
		case "$disconnect":
			return h.Disconnect(ctx, ev)
		case "$default":
			return h.Default(ctx, ev)
		}
		return events.APIGatewayProxyResponse{StatusCode: http.StatusNotFound}, nil
	}
}
