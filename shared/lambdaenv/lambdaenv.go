// Package lambdaenv reads a Lambda function's configuration once per cold
// start: plain settings from the environment, secrets from Secrets
// Manager (their ARNs in the environment, never their values), and a JSON
// logger.
package lambdaenv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// ErrMissing is returned when a required environment variable is unset.
var ErrMissing = errors.New("lambdaenv: required environment variable not set")

// SecretGetter is the part of the Secrets Manager client used here.
type SecretGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Require returns the value of the environment variable name.
func Require(name string) (string, error) {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return "", fmt.Errorf("%w: %s", ErrMissing, name)
	}
	return v, nil
}

// Secret returns the secret whose ARN is in the environment variable
// name. The value never reaches the environment or the logs.
func Secret(ctx context.Context, sm SecretGetter, name string) (string, error) {
	arn, err := Require(name)
	if err != nil {
		return "", err
	}
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("lambdaenv: read secret %s: %w", name, err)
	}
	v := strings.TrimSpace(aws.ToString(out.SecretString))
	if v == "" {
		return "", fmt.Errorf("lambdaenv: secret %s is empty", name)
	}
	return v, nil
}

// Logger returns the JSON logger every function writes to stdout
// (CloudWatch Logs), tagged with the function's name.
func Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stdout, nil)).With("function", os.Getenv("AWS_LAMBDA_FUNCTION_NAME"))
}
