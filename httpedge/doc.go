// Package httpedge is the HTTP edge of the engine, the part that plays the
// API gateway: one gin engine with request and correlation ids, a
// structured access log, metrics, recovery, a body limit, a per-request
// timeout and CORS (New); the one table from apperr codes to HTTP statuses
// and application/problem+json answers (WriteError); strict JSON decoding
// (DecodeJSON); Idempotency-Key handling for writes (Idempotency); and the
// X-Event-Position header of write answers (SetEventPosition).
//
// Handlers return errors as *apperr.Error (or anything apperr.CodeOf
// classifies) and call WriteError; they never pick a status for an error
// themselves.
package httpedge
