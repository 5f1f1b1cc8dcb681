// Package esdbstandin is an in-process stand-in for a single KurrentDB /
// EventStoreDB node. It speaks the real gRPC protocol (the Streams and
// ServerFeatures services from the official Go client's shipped protos), so
// the official client connects to it with
// "kurrentdb://127.0.0.1:PORT?tls=false" exactly as it would to a server.
//
// It exists so that unit tests of our KurrentDB adapter can check WHAT the
// adapter sends (see Server.Requests) and HOW it interprets answers
// (positions, revisions, wrong expected version, idempotent retries, system
// events, legacy transaction records, dropped subscriptions) without running
// a real server.
//
// It proves mapping, not server behaviour. It models a faithful but small
// subset of the server's semantics, chosen from the protocol and the
// server's documented rules; anything that matters for correctness in
// production (durability, ordering under load, the exact checkpoint cadence
// of filtered subscriptions, ACLs, deletes, links, projections, persistent
// subscriptions, BatchAppend, multi-stream appends) must still be verified
// against a real server in an integration test.
//
// Modelled semantics, in short:
//
//   - One in-memory log ($all). Every event appended through gRPC, Append,
//     or AppendSystem gets commit == prepare == its own log position.
//     Positions start at 1000 and advance by 100+len(data) per event, so
//     they strictly increase with gaps. AppendLegacy writes events whose
//     prepares are distinct and lower than a single shared commit position,
//     as pre-gRPC explicit transactions did. $all is ordered by
//     (commit, prepare).
//   - Stream revisions are 0-based per stream.
//   - Append honours expected revision any / no_stream / stream_exists /
//     exact and answers WrongExpectedVersion like the server (current
//     revision or current_no_stream, and the expected option echoed).
//     Idempotent retries answer Success with no position (see
//     appendProposed in streams.go for the exact rule).
//   - Reads of a stream and of $all, forwards and backwards, from
//     start / end / revision / position, with count and (for $all) a filter.
//     A forwards read of $all from position P includes the event at exactly
//     P; a backwards read from P returns only events strictly before P
//     (the server's TFPos rules). Stream reads from revision R include R in
//     both directions. A missing stream answers StreamNotFound.
//   - Catch-up subscriptions to a stream or to $all (optionally filtered):
//     confirmation, catch-up events strictly after the start point,
//     caught_up, then live events. Filtered $all subscriptions also emit
//     checkpoints (see the checkpoint comment in subscribe.go).
//   - DropSubscriptions ends every open subscription with
//     codes.Unavailable.
package esdbstandin
