// Command api is the HTTP API Lambda function (API Gateway HTTP API,
// payload 2.0). It only wires: configuration and clients are built once per
// cold start; the handler lives in shared/httpapi, which the local runner
// hosts too.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/greenroom-live/greenroom/shared/auth"
	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/groupfeed"
	"github.com/greenroom-live/greenroom/shared/httpapi"
	"github.com/greenroom-live/greenroom/shared/lambdaenv"
)

func main() {
	log := lambdaenv.Logger()
	h, err := newHandler(context.Background())
	if err != nil {
		log.Error("cold start failed", "err", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

func newHandler(ctx context.Context) (*httpapi.Handler, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	st, err := lambdaenv.Store(cfg)
	if err != nil {
		return nil, err
	}
	sm := secretsmanager.NewFromConfig(cfg)
	tokenKey, err := lambdaenv.Secret(ctx, sm, "GREENROOM_TOKEN_KEY_SECRET")
	if err != nil {
		return nil, err
	}
	adminKey, err := lambdaenv.Secret(ctx, sm, "GREENROOM_ADMIN_KEY_SECRET")
	if err != nil {
		return nil, err
	}
	wsURL, err := lambdaenv.Require("GREENROOM_WS_URL")
	if err != nil {
		return nil, err
	}
	// TURN is optional: without its URLs, members get no relay.
	var turnCfg httpapi.TURNConfig
	if urls := strings.TrimSpace(os.Getenv("GREENROOM_TURN_URLS")); urls != "" {
		secret, err := lambdaenv.Secret(ctx, sm, "GREENROOM_TURN_SECRET_SECRET")
		if err != nil {
			return nil, err
		}
		turnCfg = httpapi.TURNConfig{Secret: secret, URLs: strings.Split(urls, ",")}
	}
	clock := domain.SystemClock{}
	tokens, err := auth.NewIssuer(auth.Config{Key: []byte(tokenKey), Clock: clock})
	if err != nil {
		return nil, err
	}
	notifier, err := lambdaenv.Notifier(ctx, cfg, lambdaenv.Logger())
	if err != nil {
		return nil, err
	}
	groups, err := groupfeed.New(groupfeed.Config{Store: st, Sender: notifier, Clock: clock, Logger: lambdaenv.Logger()})
	if err != nil {
		return nil, err
	}
	return httpapi.New(httpapi.Config{
		Groups:   groups,
		Store:    st,
		Tokens:   tokens,
		AdminKey: adminKey,
		Clock:    clock,
		Logger:   lambdaenv.Logger(),
		WebURL:   os.Getenv("GREENROOM_WEB_URL"),
		WSURL:    wsURL,
		TURN:     turnCfg,
	})
}
