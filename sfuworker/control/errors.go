package control

import (
	"errors"
	"fmt"

	"github.com/greenroom-live/greenroom/sfuworker/sfu"
)

var (
	// ErrNoWorker is returned by New without a worker.
	ErrNoWorker = errors.New("control: no worker")
	// ErrShortSecret is returned by New and NewClient when the shared
	// secret is shorter than MinSecretLen.
	ErrShortSecret = errors.New("control: shared secret too short")
	// ErrBadURL is returned by NewClient for a base URL that is not an
	// absolute http or https URL.
	ErrBadURL = errors.New("control: bad base URL")
	// ErrUnauthorized is returned by the Client when the worker refused
	// the shared secret.
	ErrUnauthorized = errors.New("control: unauthorized")
	// ErrDraining is returned by the Client when a draining worker
	// refused a new room.
	ErrDraining = errors.New("control: worker draining")
	// ErrBadRequest is returned by the Client when the worker refused the
	// request as malformed.
	ErrBadRequest = errors.New("control: bad request")
)

// Error codes of the control API's JSON errors.
const (
	codeUnauthorized = "unauthorized"
	codeBadRequest   = "bad_request"
	codeTooLarge     = "too_large"
	codeNotFound     = "not_found"
	codeNoRoom       = "no_room"
	codeNoMember     = "no_member"
	codeBadSDP       = "bad_sdp"
	codeStaleAnswer  = "stale_answer"
	codeBadMessage   = "bad_message"
	codeDraining     = "draining"
	codeClosed       = "closed"
	codeInternal     = "internal"
)

// codeErrors maps the codes the Client understands back to sentinels.
var codeErrors = map[string]error{
	codeUnauthorized: ErrUnauthorized,
	codeBadRequest:   ErrBadRequest,
	codeTooLarge:     ErrBadRequest,
	codeNoRoom:       sfu.ErrNoRoom,
	codeNoMember:     sfu.ErrNoMember,
	codeBadSDP:       sfu.ErrBadSDP,
	codeStaleAnswer:  sfu.ErrStaleAnswer,
	codeBadMessage:   sfu.ErrBadMessage,
	codeDraining:     ErrDraining,
	codeClosed:       sfu.ErrClosed,
}

// APIError is a control API error response, as the Client returns it. It
// unwraps to the sentinel its code stands for (sfu.ErrNoRoom, ErrDraining
// and so on), when there is one.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("control: %d %s: %s", e.Status, e.Code, e.Message)
}

// Unwrap returns the sentinel of the error's code, or nil.
func (e *APIError) Unwrap() error { return codeErrors[e.Code] }
