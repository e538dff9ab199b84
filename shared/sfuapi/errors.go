package sfuapi

import (
	"errors"
	"fmt"
)

var (
	// ErrShortSecret is returned by NewClient (and the worker's server)
	// when the shared secret is shorter than MinSecretLen.
	ErrShortSecret = errors.New("sfuapi: shared secret too short")
	// ErrBadURL is returned by NewClient for a base URL that is not an
	// absolute http or https URL.
	ErrBadURL = errors.New("sfuapi: bad base URL")
	// ErrUnauthorized: the worker refused the shared secret.
	ErrUnauthorized = errors.New("sfuapi: unauthorized")
	// ErrDraining: a draining worker refused a new room.
	ErrDraining = errors.New("sfuapi: worker draining")
	// ErrBadRequest: the worker refused the request as malformed.
	ErrBadRequest = errors.New("sfuapi: bad request")
	// ErrNoRoom and ErrNoMember: the worker does not have the room, or
	// the member in it; send the room's state first.
	ErrNoRoom   = errors.New("sfuapi: no such room")
	ErrNoMember = errors.New("sfuapi: no such member in the room")
	// ErrBadSDP: the session description could not be parsed.
	ErrBadSDP = errors.New("sfuapi: malformed session description")
	// ErrStaleAnswer: the answer is to an offer the worker no longer
	// waits for (a later one replaced it, or it was retired).
	ErrStaleAnswer = errors.New("sfuapi: answer to an offer that is no longer pending")
	// ErrBadMessage: the signaling message's type is unknown.
	ErrBadMessage = errors.New("sfuapi: unknown signaling message")
	// ErrClosed: the worker is shutting down.
	ErrClosed = errors.New("sfuapi: worker closed")
	// ErrNoWorker is returned by Assign and Move when no live worker has
	// spare capacity.
	ErrNoWorker = errors.New("sfuapi: no live worker with spare capacity")
)

// Error codes of the control API's JSON errors.
const (
	CodeUnauthorized = "unauthorized"
	CodeBadRequest   = "bad_request"
	CodeTooLarge     = "too_large"
	CodeNotFound     = "not_found"
	CodeNoRoom       = "no_room"
	CodeNoMember     = "no_member"
	CodeBadSDP       = "bad_sdp"
	CodeStaleAnswer  = "stale_answer"
	CodeBadMessage   = "bad_message"
	CodeDraining     = "draining"
	CodeClosed       = "closed"
	CodeInternal     = "internal"
)

// codeErrors maps the codes the Client understands back to sentinels.
var codeErrors = map[string]error{
	CodeUnauthorized: ErrUnauthorized,
	CodeBadRequest:   ErrBadRequest,
	CodeTooLarge:     ErrBadRequest,
	CodeNoRoom:       ErrNoRoom,
	CodeNoMember:     ErrNoMember,
	CodeBadSDP:       ErrBadSDP,
	CodeStaleAnswer:  ErrStaleAnswer,
	CodeBadMessage:   ErrBadMessage,
	CodeDraining:     ErrDraining,
	CodeClosed:       ErrClosed,
}

// APIError is a control API error response, as the Client returns it. It
// unwraps to the sentinel its code stands for (ErrNoRoom, ErrDraining and
// so on), when there is one.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("sfuapi: %d %s: %s", e.Status, e.Code, e.Message)
}

// Unwrap returns the sentinel of the error's code, or nil.
func (e *APIError) Unwrap() error { return codeErrors[e.Code] }

// ErrorBody is the JSON of every error response.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}
