package live

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/commerce-engine/commerce/domain/order"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/messaging"
)

// Types are the order event types Consumer turns into updates: the
// messaging.Consumer's Types, so the broker delivers nothing else.
var Types = []string{
	order.PlacedType, order.ProcessingType, order.ShippedType,
	order.DeliveredType, order.CancelledType, order.RefundedType,
}

// Topics are the bus topics Consumer binds: the order streams' category,
// where Types come from.
var Topics = []string{messaging.Topic(order.StreamPrefix)}

// Directory finds an order's customer; the engine implements it over the
// event store (the same shape as notify.Directory.OrderCustomer).
type Directory interface {
	OrderCustomer(ctx context.Context, orderID string) (customerID string, err error)
}

// Consumer turns order events into updates for the hub: the bus handler of
// a broadcast consumer (one per API process).
type Consumer struct {
	Hub       *Hub
	Codec     *eventstore.Codec
	Directory Directory
	Logger    *slog.Logger // default slog.Default()
	// Gate, when set, holds each update until the shopper's reads show it
	// (its Run must be running); nil publishes at once.
	Gate *Gate
}

// Handle publishes the status change e records to its customer's
// subscribers. Events of other types return nil; an undecodable event is
// logged and skipped (nil), since retrying cannot fix it; a Directory
// failure is returned (wrapped) so that the bus retries.
func (c *Consumer) Handle(ctx context.Context, e eventstore.Event) error {
	if !handled(e.Type) {
		return nil
	}
	payload, err := c.Codec.Decode(e)
	if err != nil {
		c.logger().Error("live: cannot decode event; skipped", "event_id", e.ID.String(), "event_type", e.Type, "err", err)
		return nil
	}
	var u Update
	switch p := payload.(type) {
	case order.Placed:
		u = Update{OrderID: p.OrderID, Status: "placed", At: p.At, CustomerID: p.CustomerID}
	case order.Processing:
		u = Update{OrderID: p.OrderID, Status: "processing", At: p.At}
	case order.Shipped:
		u = Update{OrderID: p.OrderID, Status: "shipped", At: p.At}
	case order.Delivered:
		u = Update{OrderID: p.OrderID, Status: "delivered", At: p.At}
	case order.Cancelled:
		u = Update{OrderID: p.OrderID, Status: "cancelled", At: p.At}
	case order.Refunded:
		u = Update{OrderID: p.OrderID, Status: "refunded", At: p.At}
	default:
		return nil
	}
	u.At = u.At.UTC()
	if u.CustomerID == "" {
		id, err := c.Directory.OrderCustomer(ctx, u.OrderID)
		if err != nil {
			return fmt.Errorf("live: customer of order %s: %w", u.OrderID, err)
		}
		u.CustomerID = id
	}
	if c.Gate != nil && e.Position > 0 {
		c.Gate.Hold(e.Position, u)
		return nil
	}
	c.Hub.Publish(u)
	return nil
}

func (c *Consumer) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

func handled(typ string) bool {
	for _, t := range Types {
		if t == typ {
			return true
		}
	}
	return false
}
