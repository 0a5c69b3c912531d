// Package lift holds Lift's domain: clips and their features, CTR bands,
// predictions, outcomes, experiments, the model registry's records, the
// error type, and the small interfaces the adapters implement. It imports
// nothing of the project's own.
package lift

import (
	"errors"
	"fmt"
)

// Kind classifies an error so that adapters can map it to a status
// (HTTP code, exit status) in exactly one place.
type Kind uint8

// The error kinds. Internal is the zero value so that an unclassified
// error is never mistaken for the caller's fault.
const (
	Internal     Kind = iota // a bug or an unexpected failure; logged
	Invalid                  // the caller's input is wrong; nothing was written
	NotFound                 // the named thing does not exist
	Conflict                 // the write contradicts what is stored
	Unauthorized             // missing or wrong credentials
	TooLarge                 // the input is over a size limit
	Unavailable              // a dependency is not ready (no model, database down)
	Timeout                  // the caller's request did not arrive in time
	Forbidden                // refused whoever asks: a cross-site browser request, a foreign Host
)

var kindNames = [...]string{"internal", "invalid", "not_found", "conflict", "unauthorized", "too_large", "unavailable", "timeout", "forbidden"}

// String returns the kind's wire name, as used in the API's "code" field.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "internal"
}

// Error is Lift's error: the operation that failed, what kind of failure
// it was, and the underlying cause.
type Error struct {
	Op   string // e.g. "ClipStore.Get(\"c1\")"
	Kind Kind
	Err  error
}

// DatabaseDown is a store's error when its database cannot be reached or
// dropped the connection. Its text names the server's address, user and
// database: the operator's logs and CLI show it, API clients are told
// only that the database is unavailable.
type DatabaseDown struct{ Cause error }

func (e *DatabaseDown) Error() string { return e.Cause.Error() }
func (e *DatabaseDown) Unwrap() error { return e.Cause }

func (e *Error) Error() string {
	if e.Op == "" {
		return e.Err.Error()
	}
	return e.Op + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of the given kind whose message is formatted
// like fmt.Errorf (so %w wraps).
func Errorf(kind Kind, format string, args ...any) error {
	return &Error{Kind: kind, Err: fmt.Errorf(format, args...)}
}

// KindOf returns the kind of the outermost *Error in err's chain that has
// a kind other than Internal, or Internal.
func KindOf(err error) Kind {
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return Internal
		}
		if e.Kind != Internal {
			return e.Kind
		}
		err = e.Err
	}
	return Internal
}

// Message returns the human sentence of err without operation prefixes,
// suitable for an API client: the cause inside the innermost *Error.
func Message(err error) string {
	for {
		var e *Error
		if !errors.As(err, &e) || e.Err == nil {
			return err.Error()
		}
		err = e.Err
	}
}

// Wrap annotates *errp with op when it is non-nil, keeping its kind.
// Store methods use it as `defer lift.Wrap(&err, "ClipStore.Get(%q)", id)`.
func Wrap(errp *error, format string, args ...any) {
	if *errp != nil {
		*errp = &Error{Op: fmt.Sprintf(format, args...), Kind: KindOf(*errp), Err: *errp}
	}
}
