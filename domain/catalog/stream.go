package catalog

// StreamPrefix starts the name of every stream of a product (its catalog entry and stock): the category
// that readers filter $all by and that the relay turns into a topic. It is
// spelled here only; every other package uses it or StreamID.
const StreamPrefix = "product-"

// StreamID names the stream of a product (its catalog entry and stock) with this id.
func StreamID(productID string) string { return StreamPrefix + productID }
