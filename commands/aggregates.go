package commands

import (
	"github.com/commerce-engine/commerce/domain/cart"
	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/domain/checkout"
	"github.com/commerce-engine/commerce/domain/customer"
	"github.com/commerce-engine/commerce/domain/order"
	"github.com/commerce-engine/commerce/domain/payment"
)

// The aggregates as the runner drives them: each domain package's Evolve
// and Decide, passed to Handle, Load and Peek.

// Product is the catalog aggregate (a product and its inventory) as the
// runner drives it.
var Product = Aggregate[catalog.State]{Evolve: catalog.Evolve, Decide: catalog.Decide}

// Cart is the cart aggregate as the runner drives it.
var Cart = Aggregate[cart.State]{Evolve: cart.Evolve, Decide: cart.Decide}

// Order is the order aggregate as the runner drives it.
var Order = Aggregate[order.State]{Evolve: order.Evolve, Decide: order.Decide}

// Checkout runs the checkout saga's decisions through the common path.
var Checkout = Aggregate[checkout.State]{Evolve: checkout.Evolve, Decide: checkout.Decide}

// Payment runs payment commands (intents, webhooks, refunds).
var Payment = Aggregate[payment.State]{Evolve: payment.Evolve, Decide: payment.Decide}

// Customer is the customer aggregate as the runner drives it.
var Customer = Aggregate[customer.State]{Evolve: customer.Evolve, Decide: customer.Decide}
