package payment

// StreamPrefix starts the name of every stream of a payment: the category
// that readers filter $all by and that the relay turns into a topic. It is
// spelled here only; every other package uses it or StreamID.
const StreamPrefix = "payment-"

// StreamID names the stream of a payment with this id.
func StreamID(paymentID string) string { return StreamPrefix + paymentID }
