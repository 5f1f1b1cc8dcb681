package eventstore

// Streams that record the engine's bookkeeping rather than business facts.
// They are in $all like every stream; their prefixes are defined here,
// below every package that writes or reads them, so that the writers
// (httpedge, commands), the projections and the relay spell them once.
const (
	// IdempotencyStreamPrefix starts the stream of every Idempotency-Key
	// record (httpedge.EventStoreIdempotency): an HTTP answer kept for
	// replay. The relay never publishes these streams and no projection
	// indexes them.
	IdempotencyStreamPrefix = "idempotency-"
	// AccountStreamPrefix starts the account lookup streams (commands): the
	// one-event indexes from an email, a refresh family or a verification
	// token to its account. No order timeline holds them.
	AccountStreamPrefix = "account-"
)
