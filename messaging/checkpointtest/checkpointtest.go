// Package checkpointtest is the conformance suite of messaging.Checkpoints:
// every adapter (memory, file, PostgreSQL) runs it from its own tests, as
// every event store runs eventstore/storetest.
package checkpointtest

import (
	"context"
	"testing"
	"time"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/messaging"
)

// Run checks the Checkpoints newStore returns against the contract: a new
// name loads 0, Load returns what Save recorded last (also moving back and
// past 32 bits), and names are independent. newStore returns a fresh, empty
// store for each call; an integration adapter skips (or fails under CI)
// there when its service is missing.
func Run(t *testing.T, newStore func(t *testing.T) messaging.Checkpoints) {
	t.Helper()
	t.Run("load and save", func(t *testing.T) {
		c := newStore(t)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if p, err := c.Load(ctx, "relay"); err != nil || p != 0 {
			t.Fatalf("Load of a new name = %d, %v", p, err)
		}
		for _, p := range []eventstore.Position{5, 1 << 40, 6} {
			if err := c.Save(ctx, "relay", p); err != nil {
				t.Fatal(err)
			}
			if got, err := c.Load(ctx, "relay"); err != nil || got != p {
				t.Fatalf("Load = %d, %v, want %d", got, err, p)
			}
		}
		if got, _ := c.Load(ctx, "other"); got != 0 {
			t.Errorf("names are not independent: other = %d", got)
		}
	})
}
