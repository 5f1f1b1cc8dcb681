package order

// StreamPrefix starts the name of every stream of an order: the category
// that readers filter $all by and that the relay turns into a topic. It is
// spelled here only; every other package uses it or StreamID.
const StreamPrefix = "order-"

// StreamID names the stream of an order with this id.
func StreamID(orderID string) string { return StreamPrefix + orderID }
