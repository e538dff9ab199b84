package store

import "context"

// labelKey is the context key of a call's label.
type labelKey struct{}

// WithLabel returns ctx labelled with what the store calls made under it
// are for: a WebSocket message type, "$connect", an HTTP route. Stores
// ignore it; a meter of consumed capacity (dynamostore.MeterClient) reads
// it to charge each call to the message that made it.
func WithLabel(ctx context.Context, label string) context.Context {
	return context.WithValue(ctx, labelKey{}, label)
}

// Label returns the label of ctx, or "" when it has none.
func Label(ctx context.Context) string {
	l, _ := ctx.Value(labelKey{}).(string)
	return l
}
