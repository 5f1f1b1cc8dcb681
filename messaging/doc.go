// Package messaging carries committed events from the event store to the
// roles that react to them (saga, notifier): the Bus port with its two
// adapters (InProcessBus on Watermill's channel, AMQPBus on RabbitMQ), a
// Relay that publishes $all from a durable checkpoint at least once and in
// order per topic, and a Router that runs named, durable consumers with
// retries and a poison queue an admin can inspect and re-drive.
//
// Delivery is at least once and, across topics, in any order: every
// consumer must be idempotent by event id. Renaming a consumer gives it a new
// durable queue, which starts empty: events relayed before the rename are
// not delivered to the new name.
package messaging
