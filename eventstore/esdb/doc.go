// Package esdb is the event store adapter for EventStoreDB / KurrentDB, on the
// official gRPC client (github.com/kurrent-io/KurrentDB-Client-Go, the
// maintained continuation of EventStore-Client-Go).
//
// How the contract of package eventstore maps onto the server:
//
//   - Versions are 1-based, the server's stream revisions 0-based: version v is
//     revision v-1. Any, NoStream and StreamExists map to the client's stream
//     states of the same names; Exact(v) to Revision(v-1).
//   - Our event id is the server's event id, so the server itself recognises
//     a retried append, by ids alone. It answers a retry like a fresh write
//     (the last event's revision and, on current servers, its position), so
//     every successful append is read back: the events at those revisions
//     must be the proposed ones with the same content (else
//     ErrIdempotencyConflict), and one more event after them marks a retry.
//     A wrong expected version or a lost answer is settled by reading where
//     a retry would be.
//   - A $all position is a pair (commit, prepare). Every event the gRPC API
//     writes has commit == prepare (its own log position), so Position is that
//     log position plus one (0 stays "before the first event"). It keeps the
//     server's order, and resuming from it is exact. An event of a legacy
//     explicit transaction (commit != prepare, only the old TCP API wrote them)
//     cannot be placed that way and is refused with ErrLegacyPosition rather
//     than delivered out of order.
//   - System events ($-prefixed streams or types) are never returned.
//   - A Namespace names every stream "<namespace>:<stream>", so several shops
//     or tests can share one server; reads of $all see only their namespace.
package esdb
