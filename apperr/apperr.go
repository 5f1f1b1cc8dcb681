// Package apperr is the engine's one application error type: a Code that
// the HTTP edge turns into a status (one table, in httpedge), a Message safe
// to show to the caller, optional per-field validation errors, and the
// wrapped cause, which is logged but never shown.
//
// Business rules stay sentinel errors in their domain packages; command
// handlers wrap them with a code (apperr.Conflict("...", domain.ErrOutOfStock))
// so that errors.Is still finds the rule and the edge still finds the code.
package apperr

import (
	"context"
	"errors"
	"strings"

	"github.com/commerce-engine/commerce/eventstore"
)

// Code classifies an error by what the caller can do about it; the HTTP edge
// maps each code to exactly one status.
type Code string

// The codes, one per kind of answer a caller must tell apart.
const (
	// CodeInvalid means the input is malformed or breaks a rule of its shape (400).
	CodeInvalid Code = "invalid"
	// CodeNotFound means the resource does not exist or is not the caller's (404).
	CodeNotFound Code = "not_found"
	// CodeConflict means the current state does not allow the request (409).
	CodeConflict Code = "conflict"
	// CodeUnauthorized means no credentials or bad ones (401).
	CodeUnauthorized Code = "unauthorized"
	// CodeForbidden means valid credentials without the right to do this (403).
	CodeForbidden Code = "forbidden"
	// CodeUnavailable means a dependency is down, slow or its circuit is open (503).
	CodeUnavailable Code = "unavailable"
	// CodeRateLimited means the caller sent too many requests (429).
	CodeRateLimited Code = "rate_limited"
	// CodeTooLarge means the request body is over the limit (413).
	CodeTooLarge Code = "too_large"
	// CodeIdempotencyMismatch means an Idempotency-Key was reused for another request (422).
	CodeIdempotencyMismatch Code = "idempotency_mismatch"
	// CodeInternal means a bug or an unexpected failure; details are logged only (500).
	CodeInternal Code = "internal"
)

// Codes lists every code, so that tables over codes can be checked for completeness.
func Codes() []Code {
	return []Code{
		CodeInvalid, CodeNotFound, CodeConflict, CodeUnauthorized, CodeForbidden,
		CodeUnavailable, CodeRateLimited, CodeTooLarge, CodeIdempotencyMismatch, CodeInternal,
	}
}

// FieldError names one bad input field, so that a client can show the
// message next to the right form field.
type FieldError struct {
	// Field is the JSON name (or dotted path) of the field, e.g. "quantity" or "price.amount".
	Field string `json:"field"`
	// Message says what is wrong, for a human: "must be a number".
	Message string `json:"message"`
}

// Error is the application error: what went wrong for the caller (Code,
// Message, Fields) and why, for the logs (Err).
type Error struct {
	// Code selects the HTTP status and problem type.
	Code Code
	// Message is safe to return to the caller; for CodeInternal it is not returned at all.
	Message string
	// Fields lists invalid input fields (CodeInvalid).
	Fields []FieldError
	// Err is the cause; it is logged, never returned to the caller.
	Err error
}

// Error renders the code, the message, the fields and the cause, for logs.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Code))
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(" (")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Field + ": " + f.Message)
		if i == len(e.Fields)-1 {
			b.WriteString(")")
		}
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause, so errors.Is finds the domain's sentinel errors.
func (e *Error) Unwrap() error { return e.Err }

// New returns an error with code and message and no cause.
func New(code Code, message string) *Error { return &Error{Code: code, Message: message} }

// Wrap returns an error with code and message that keeps err as its cause.
func Wrap(code Code, message string, err error) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// Field builds one FieldError, to keep Invalid calls short.
func Field(field, message string) FieldError { return FieldError{Field: field, Message: message} }

// Invalid reports bad input; fields name the offending fields when known.
func Invalid(message string, fields ...FieldError) *Error {
	return &Error{Code: CodeInvalid, Message: message, Fields: fields}
}

// NotFound reports an unknown resource (or another caller's: ids cannot be probed).
func NotFound(message string) *Error { return New(CodeNotFound, message) }

// Conflict reports a state that does not allow the request; cause may be a
// domain sentinel (or nil).
func Conflict(message string, cause error) *Error { return Wrap(CodeConflict, message, cause) }

// Unauthorized reports missing or bad credentials.
func Unauthorized(message string) *Error { return New(CodeUnauthorized, message) }

// Forbidden reports a caller without the right to do this.
func Forbidden(message string) *Error { return New(CodeForbidden, message) }

// Unavailable reports a dependency that is down or slow; cause is logged.
func Unavailable(message string, cause error) *Error { return Wrap(CodeUnavailable, message, cause) }

// RateLimited reports a caller over its request rate.
func RateLimited(message string) *Error { return New(CodeRateLimited, message) }

// TooLarge reports a request body over the limit.
func TooLarge(message string) *Error { return New(CodeTooLarge, message) }

// IdempotencyMismatch reports an Idempotency-Key reused for a different request.
func IdempotencyMismatch(message string) *Error { return New(CodeIdempotencyMismatch, message) }

// Internal wraps an unexpected failure; its cause is logged and never shown.
func Internal(cause error) *Error { return Wrap(CodeInternal, "", cause) }

// CodeOf classifies any error: the code of the first *Error in its chain;
// otherwise conflict for event store version and idempotency conflicts,
// invalid for event store input errors, unavailable for deadlines and
// cancellations; internal for anything else. It returns "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != "" {
		return e.Code
	}
	switch {
	case errors.Is(err, eventstore.ErrWrongExpectedVersion), errors.Is(err, eventstore.ErrIdempotencyConflict):
		return CodeConflict
	case errors.Is(err, eventstore.ErrInvalidInput):
		return CodeInvalid
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return CodeUnavailable
	}
	return CodeInternal
}

// genericMessages is what a caller reads for an error that is not an *Error
// (or one without a message): nothing from err itself, which may hold
// internal details.
var genericMessages = map[Code]string{
	CodeInvalid:             "the request is invalid",
	CodeNotFound:            "no such resource",
	CodeConflict:            "the resource was changed by another request or its state does not allow this; reload and retry",
	CodeUnauthorized:        "missing or invalid credentials",
	CodeForbidden:           "not allowed",
	CodeUnavailable:         "the service is temporarily unavailable; retry later",
	CodeRateLimited:         "too many requests; retry later",
	CodeTooLarge:            "the request body is too large",
	CodeIdempotencyMismatch: "the Idempotency-Key was already used for a different request",
	CodeInternal:            "an internal error occurred; quote the request id when reporting it",
}

// From returns err as an *Error fit to show: the first *Error in its chain
// (with a generic message if it has none), or a new one with CodeOf(err), a
// generic message and err as its cause. Internal errors always get the
// generic message. It returns nil for nil.
func From(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) && e.Code != "" {
		if e.Message == "" || e.Code == CodeInternal {
			c := *e
			c.Message = genericMessages[e.Code]
			if c.Message == "" {
				c.Message = genericMessages[CodeInternal]
			}
			return &c
		}
		return e
	}
	code := CodeOf(err)
	return &Error{Code: code, Message: genericMessages[code], Err: err}
}
