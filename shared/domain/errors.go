package domain

import (
	"errors"
	"sort"
	"strings"
)

// FieldErrors names each bad field of an input and says what is wrong
// with it. It is returned by the validate functions of this package; the
// HTTP and WebSocket edges turn it into the contract's `invalid` error
// with `fields`.
type FieldErrors map[string]string

// Error lists the fields in a stable order.
func (f FieldErrors) Error() string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("domain: invalid")
	for i, k := range keys {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(k + " " + f[k])
	}
	return b.String()
}

// orNil returns f as an error, or nil when it names no field.
func (f FieldErrors) orNil() error {
	if len(f) == 0 {
		return nil
	}
	return f
}

var (
	// ErrOffGrid is returned by Event.SlotAt when a time is not the start
	// of a slot inside one of the event's windows.
	ErrOffGrid = errors.New("domain: not the start of a slot")
)
