package httpapi

import (
	"errors"
	"net/http"

	"github.com/greenroom-live/greenroom/shared/auth"
	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// Error codes of the contract (PROTOCOL.md, "Errors, every route").
const (
	CodeInvalid          = "invalid"
	CodeUnauthenticated  = "unauthenticated"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeConflict         = "conflict"
	CodeEmployerLimit    = "employer_limit"
	CodeEventLimit       = "event_limit"
	CodeSlotFull         = "slot_full"
	CodeSessionFull      = "session_full"
	CodeSessionEnded     = "session_ended"
	CodeSessionExpired   = "session_expired"
	CodeNotRegistered    = "not_registered"
	CodeSpeakersFull     = "speakers_full"
	CodeGroupFull        = "group_full"
	CodeTooLarge         = "too_large"
	CodeRateLimited      = "rate_limited"
	CodeInternal         = "internal"
)

// Error is a client-facing error: the status, the contract's code, a
// sentence for people, and the bad fields of an `invalid` request.
type Error struct {
	Status  int               `json:"-"`
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
	// RetryAfterMs says when a `rate_limited` request may be tried again.
	RetryAfterMs int64 `json:"retryAfterMs,omitempty"`
}

func (e *Error) Error() string { return "httpapi: " + e.Code + ": " + e.Message }

func newError(status int, code, msg string) *Error {
	return &Error{Status: status, Code: code, Message: msg}
}

func invalid(fields map[string]string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Message: "the request is not valid; see fields", Fields: fields}
}

func invalidField(field, problem string) *Error {
	return invalid(map[string]string{field: problem})
}

var (
	errUnauthenticated = newError(http.StatusUnauthorized, CodeUnauthenticated, "a valid bearer token is required")
	errForbidden       = newError(http.StatusForbidden, CodeForbidden, "this token may not do that")
	errTooLarge        = newError(http.StatusRequestEntityTooLarge, CodeTooLarge, "the request body is larger than 64 KiB")
	errInternal        = newError(http.StatusInternalServerError, CodeInternal, "something went wrong on our side; try again")
)

func notFound(what string) *Error {
	return newError(http.StatusNotFound, CodeNotFound, what+" not found")
}

// toError maps an error from the domain or the store to the contract,
// once, at the edge. Anything it does not know is an internal error.
func toError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var fe domain.FieldErrors
	if errors.As(err, &fe) {
		return invalid(fe)
	}
	switch {
	case errors.Is(err, auth.ErrInvalidToken):
		return errUnauthenticated
	case errors.Is(err, store.ErrNotFound):
		return notFound("resource")
	case errors.Is(err, store.ErrSessionFull):
		return newError(http.StatusConflict, CodeSessionFull, "every spot in this session is taken")
	case errors.Is(err, store.ErrSessionOver):
		return newError(http.StatusGone, CodeSessionEnded, "this session has ended")
	case errors.Is(err, store.ErrEmployerLimit):
		return newError(http.StatusConflict, CodeEmployerLimit, "this employer has booked as many sessions as the event allows")
	case errors.Is(err, store.ErrEventLimit):
		return newError(http.StatusConflict, CodeEventLimit, "the event has as many sessions as it allows")
	case errors.Is(err, store.ErrSlotFull):
		return newError(http.StatusConflict, CodeSlotFull, "this slot holds as many sessions as the event allows")
	case errors.Is(err, store.ErrSpeakersFull):
		return newError(http.StatusConflict, CodeSpeakersFull, "the session names as many speakers as its stage seats")
	case errors.Is(err, store.ErrExists):
		return newError(http.StatusConflict, CodeConflict, "that already exists")
	}
	return errInternal
}
