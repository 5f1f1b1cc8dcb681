package commands

import (
	"fmt"
	"testing"
)

// TestAFullCacheKeepsItsHotStreams: a full cache evicts the least recently
// current of the entries it samples, so a stream that every command touches
// (a product) stays while a stream of new ones (checkouts) passes through.
func TestAFullCacheKeepsItsHotStreams(t *testing.T) {
	c := NewStateCache(16)
	for i := range 16 {
		c.put(fmt.Sprintf("checkout-%d", i), i, 1)
	}
	for i := range 1000 {
		c.put("product-hot", i, int64(i+1))
		c.put(fmt.Sprintf("checkout-new-%d", i), i, 1)
		if _, _, ok := cachedState[int](c, "product-hot"); !ok {
			t.Fatalf("the hot stream was evicted after %d new streams", i+1)
		}
	}
	if n := len(c.m); n != 16 {
		t.Fatalf("the cache holds %d entries, want its 16", n)
	}
}
