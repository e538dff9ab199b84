package wsapi

import (
	"errors"
	"fmt"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// Error codes on the socket (PROTOCOL.md).
const (
	CodeInvalid     = "invalid"
	CodeForbidden   = "forbidden"
	CodeNotFound    = "not_found"
	CodeConflict    = "conflict"
	CodeStageFull   = "stage_full"
	CodeRateLimited = "rate_limited"
	CodeInternal    = "internal"
)

// wireError is an error reply: the contract's code and a sentence.
type wireError struct {
	code       string
	message    string
	fields     map[string]string
	retryAfter time.Duration
}

func (e *wireError) Error() string { return "wsapi: " + e.code + ": " + e.message }

func newWireError(code, msg string) *wireError { return &wireError{code: code, message: msg} }

var errUnknownConnection = newWireError(CodeForbidden, "this connection is not known; open a new one with a fresh join token")

// toWire maps errors of the rules and the store to the contract, once.
func toWire(err error) *wireError {
	var we *wireError
	if errors.As(err, &we) {
		return we
	}
	var rl *rateLimitedError
	if errors.As(err, &rl) {
		// Whole milliseconds, rounded up: waiting that long is enough.
		wait := (rl.retryAfter + time.Millisecond - 1).Truncate(time.Millisecond)
		return &wireError{code: CodeRateLimited, retryAfter: wait,
			message: fmt.Sprintf("too many messages of this kind; retry in %d ms", wait.Milliseconds())}
	}
	var de *decodeError
	if errors.As(err, &de) {
		return &wireError{code: CodeInvalid, message: "the message is not valid; see fields", fields: de.fields}
	}
	var fe domain.FieldErrors
	if errors.As(err, &fe) {
		return &wireError{code: CodeInvalid, message: "the message is not valid; see fields", fields: fe}
	}
	switch {
	case errors.Is(err, domain.ErrQuestionsFull):
		return newWireError(CodeConflict, fmt.Sprintf("the session holds %d questions, the most it may; none was added", domain.MaxQuestions))
	case errors.Is(err, domain.ErrForbidden):
		return newWireError(CodeForbidden, "your role or device may not do that")
	case errors.Is(err, domain.ErrStageFull):
		return newWireError(CodeStageFull, "every seat on the stage is taken")
	case errors.Is(err, domain.ErrConflict):
		return newWireError(CodeConflict, "the session is not in a state where that can happen")
	case errors.Is(err, domain.ErrSessionOver):
		return newWireError(CodeConflict, "the session is over")
	case errors.Is(err, domain.ErrNotMember):
		return newWireError(CodeNotFound, "no such member in this session")
	case errors.Is(err, domain.ErrNoQuestion):
		return newWireError(CodeNotFound, "no such question")
	case errors.Is(err, domain.ErrRemoved):
		return newWireError(CodeForbidden, "you were removed from this session")
	case errors.Is(err, store.ErrNotFound):
		return newWireError(CodeNotFound, "not found")
	case errors.Is(err, store.ErrContention):
		return newWireError(CodeConflict, "too many changes at once; try again")
	case errors.Is(err, domain.ErrRoomFull):
		return newWireError(CodeConflict, "the room holds as many members as it may")
	}
	return newWireError(CodeInternal, "something went wrong on our side; try again")
}
