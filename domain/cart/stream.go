package cart

// StreamPrefix starts the name of every cart stream: the category that
// readers filter $all by and that the relay turns into a topic. It is
// spelled here only; every other package uses it or StreamID.
const StreamPrefix = "cart-"

// StreamID names a shopper's cart stream: one cart per customer, emptied
// after each checkout.
func StreamID(customerID string) string { return StreamPrefix + customerID }
