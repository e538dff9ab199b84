package control

import (
	"errors"

	"github.com/greenroom-live/greenroom/shared/sfuapi"
)

var (
	// ErrNoWorker is returned by New without a worker.
	ErrNoWorker = errors.New("control: no worker")
	// ErrShortSecret is returned by New when the shared secret is
	// shorter than MinSecretLen.
	ErrShortSecret = sfuapi.ErrShortSecret
)
