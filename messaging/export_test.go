package messaging

import amqp "github.com/rabbitmq/amqp091-go"

// CloseConnection closes the bus publisher's RabbitMQ connection from the
// side, as a broker restart would.
func CloseConnection(b *AMQPBus) error { return b.pub.closeConnection() }

// SubscriberConnection returns the RabbitMQ connection of a subscriber the
// bus handed out, so a test can close it from the side.
func SubscriberConnection(s any) *amqp.Connection {
	return s.(reconnectingSubscriber).Connection()
}
