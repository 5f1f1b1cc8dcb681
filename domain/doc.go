// Package domain holds the commerce engine's aggregates as pure deciders.
//
// Every aggregate lives in its own package (catalog, cart, customer, payment,
// order) and has the same shape, so the commands layer can drive all of them
// with one loop:
//
//	events.go    payload structs, one per event type; each has EventType(),
//	             a namespaced past-tense type name ("cart.item_added") and a
//	             schema version constant, and RegisterEvents binds them all to
//	             an event codec (anything with RegisterType, such as
//	             *eventstore.Codec) without this tree importing eventstore.
//	commands.go  command structs; IDs and the time (At) arrive inside them.
//	state.go     State and Evolve(State, event any) State: a type switch over
//	             payload values whose default returns the state unchanged.
//	decide.go    Decide(State, command any) ([]any, error), with the
//	             aggregate's business rules listed at the top.
//	errors.go    one sentinel error per rule, matched with errors.Is.
//
// The contract of Decide, the same in every package:
//
//   - It is pure: no I/O, no clock, no randomness. It reads only the state
//     (folded from the stream with Evolve) and the command, passed by value.
//   - It returns either events (payload values, never pointers) and a nil
//     error, or a nil slice and an error that wraps one of the package's
//     sentinels. It never returns both.
//   - An empty, nil-error result means the command is already satisfied (an
//     idempotent repeat, such as a duplicate payment success) and nothing is
//     to be appended.
//   - A command type the package does not know gives ErrUnknownCommand.
//
// Evolve is total: it never fails and ignores events it does not know, so
// replaying a stream never stops on an event written by newer code. State
// structs are not the payload structs: payloads are the stored contract,
// states are private working memory and may change freely.
//
// Tests read as given events / when command / then events or error, through
// internal/decidertest, which also checks that every registered event decodes
// and round-trips (the FuzzDecodeEvents targets and their committed seeds).
//
// Amounts are money.Money: int64 minor units with an ISO 4217 currency code,
// never floats. Nothing here imports anything but the standard library.
package domain
