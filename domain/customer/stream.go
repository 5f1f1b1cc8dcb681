package customer

// StreamPrefix starts the name of every stream of a customer's account: the category
// that readers filter $all by and that the relay turns into a topic. It is
// spelled here only; every other package uses it or StreamID.
const StreamPrefix = "customer-"

// StreamID names the stream of a customer's account with this id.
func StreamID(customerID string) string { return StreamPrefix + customerID }
