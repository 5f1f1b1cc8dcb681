package checkout

// StreamPrefix starts the name of every stream of a checkout (the saga's own state): the category
// that readers filter $all by and that the relay turns into a topic. It is
// spelled here only; every other package uses it or StreamID.
const StreamPrefix = "checkout-"

// StreamID names the stream of a checkout (the saga's own state) with this id.
func StreamID(checkoutID string) string { return StreamPrefix + checkoutID }
