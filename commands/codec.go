package commands

import (
	"github.com/commerce-engine/commerce/domain/cart"
	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/domain/checkout"
	"github.com/commerce-engine/commerce/domain/customer"
	"github.com/commerce-engine/commerce/domain/order"
	"github.com/commerce-engine/commerce/domain/payment"
	"github.com/commerce-engine/commerce/eventstore"
)

// NewCodec returns a codec that knows every domain event, for the runner,
// the projections and anyone else that decodes the log.
func NewCodec() *eventstore.Codec {
	c := eventstore.NewCodec()
	catalog.RegisterEvents(c)
	cart.RegisterEvents(c)
	checkout.RegisterEvents(c)
	customer.RegisterEvents(c)
	order.RegisterEvents(c)
	payment.RegisterEvents(c)
	eventstore.Register[AccountIndexed](c, accountIndexedType, 1)
	return c
}
