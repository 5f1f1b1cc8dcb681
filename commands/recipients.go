package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/commerce-engine/commerce/domain/checkout"
	"github.com/commerce-engine/commerce/domain/customer"
	"github.com/commerce-engine/commerce/domain/order"
)

// Recipients finds who a notification or a live push is for in the
// aggregates' own streams, so that no read model has to be up to date for
// a consumer to know its recipient. It implements notify.Directory and
// live's directory.
type Recipients struct {
	// Runner loads the customer, order and checkout states.
	Runner *Runner
	// Unknown is wrapped into the error when the stream names no
	// recipient (the consumer's sentinel, e.g. notify.ErrUnknownRecipient).
	Unknown error
}

// Customer returns a customer's email and name.
func (d Recipients) Customer(ctx context.Context, customerID string) (string, string, error) {
	// A customer's email and name never change once registered.
	c, _, err := LoadCached(ctx, d.Runner, Customer, customer.StreamID(customerID),
		func(c customer.State) bool { return c.Email != "" })
	if err != nil {
		return "", "", fmt.Errorf("load customer %s: %w", customerID, err)
	}
	if c.Email == "" {
		return "", "", fmt.Errorf("customer %s: %w", customerID, d.unknown())
	}
	return c.Email, c.Name, nil
}

// OrderCustomer returns the customer an order belongs to.
func (d Recipients) OrderCustomer(ctx context.Context, orderID string) (string, error) {
	o, _, err := LoadCached(ctx, d.Runner, Order, order.StreamID(orderID),
		func(o order.State) bool { return o.CustomerID != "" })
	if err != nil {
		return "", fmt.Errorf("load order %s: %w", orderID, err)
	}
	if o.CustomerID == "" {
		return "", fmt.Errorf("order %s: %w", orderID, d.unknown())
	}
	return o.CustomerID, nil
}

// CheckoutCustomer returns the customer who started a checkout.
func (d Recipients) CheckoutCustomer(ctx context.Context, checkoutID string) (string, error) {
	c, _, err := LoadCached(ctx, d.Runner, Checkout, checkout.StreamID(checkoutID),
		func(c checkout.State) bool { return c.CustomerID != "" })
	if err != nil {
		return "", fmt.Errorf("load checkout %s: %w", checkoutID, err)
	}
	if c.CustomerID == "" {
		return "", fmt.Errorf("checkout %s: %w", checkoutID, d.unknown())
	}
	return c.CustomerID, nil
}

// unknown is the error wrapped when a stream names no recipient.
func (d Recipients) unknown() error {
	if d.Unknown != nil {
		return d.Unknown
	}
	return ErrUnknownRecipient
}

// ErrUnknownRecipient is wrapped by Recipients when a stream names no
// recipient and no Unknown error is set.
var ErrUnknownRecipient = errors.New("commands: unknown recipient")
