package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/apperr"
	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/checkout"
	"github.com/commerce-engine/commerce/domain/customer"
	"github.com/commerce-engine/commerce/domain/order"
	"github.com/commerce-engine/commerce/httpedge"
	"github.com/commerce-engine/commerce/notify"
)

// notifierConsumer is the notifier's durable identity on the bus.
const notifierConsumer = "notifier"

// newNotifier sends over SMTP when COMMERCE_SMTP_URL is set and to the log
// otherwise, recording every delivery in log.
func (m *Main) newNotifier(ws *writeSide, log notify.Log) (*notify.Notifier, error) {
	var sender notify.Sender = notify.LogSender{Logger: m.log}
	if m.cfg.SMTPURL != "" {
		s, err := notify.NewSMTPSender(m.cfg.SMTPURL, m.cfg.MailFrom)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", envSMTPURL, err)
		}
		sender = s
	}
	n, err := notify.New(notify.Config{
		Sender: sender, Log: log, Directory: directory{run: ws.api.Runner}, Codec: ws.api.Runner.Codec,
		OpenToken: ws.sealer.Open, BaseURL: m.cfg.PublicURL, Logger: m.log,
	})
	if err != nil {
		return nil, fmt.Errorf("notifier: %w", err)
	}
	return n, nil
}

// directory finds the recipients of notifications in the event store.
type directory struct{ run *commands.Runner }

// Customer returns a customer's email and name.
func (d directory) Customer(ctx context.Context, customerID string) (string, string, error) {
	// A customer's email and name never change once registered.
	c, _, err := commands.LoadCached(ctx, d.run, commands.Customer, customer.StreamID(customerID),
		func(c customer.State) bool { return c.Email != "" })
	if err != nil {
		return "", "", fmt.Errorf("load customer %s: %w", customerID, err)
	}
	if c.Email == "" {
		return "", "", fmt.Errorf("customer %s: %w", customerID, notify.ErrUnknownRecipient)
	}
	return c.Email, c.Name, nil
}

// OrderCustomer returns the customer an order belongs to.
func (d directory) OrderCustomer(ctx context.Context, orderID string) (string, error) {
	o, _, err := commands.LoadCached(ctx, d.run, commands.Order, order.StreamID(orderID),
		func(o order.State) bool { return o.CustomerID != "" })
	if err != nil {
		return "", fmt.Errorf("load order %s: %w", orderID, err)
	}
	if o.CustomerID == "" {
		return "", fmt.Errorf("order %s: %w", orderID, notify.ErrUnknownRecipient)
	}
	return o.CustomerID, nil
}

// CheckoutCustomer returns the customer who started a checkout.
func (d directory) CheckoutCustomer(ctx context.Context, checkoutID string) (string, error) {
	c, _, err := commands.LoadCached(ctx, d.run, commands.Checkout, checkout.StreamID(checkoutID),
		func(c checkout.State) bool { return c.CustomerID != "" })
	if err != nil {
		return "", fmt.Errorf("load checkout %s: %w", checkoutID, err)
	}
	if c.CustomerID == "" {
		return "", fmt.Errorf("checkout %s: %w", checkoutID, notify.ErrUnknownRecipient)
	}
	return c.CustomerID, nil
}

type notificationView struct {
	ID       string     `json:"id"`
	Channel  string     `json:"channel"`
	To       string     `json:"to"`
	Template string     `json:"template"`
	Subject  string     `json:"subject"`
	Body     string     `json:"body"`
	Status   string     `json:"status"`
	Attempts int        `json:"attempts"`
	SentAt   *time.Time `json:"sent_at"`
}

var notificationNamespace = uuid.MustParse("3b0e5c7a-9f5d-4a41-8d2e-6f4c1b2a9e77")

// listNotifications answers GET /api/v1/admin/notifications.
func (cs *checkoutSide) listNotifications(c *gin.Context) {
	limit, ok := queryLimit(c)
	if !ok {
		return
	}
	to := c.Query("to")
	if len(to) > 320 {
		httpedge.WriteError(c, apperr.Invalid("invalid to", apperr.Field("to", "at most 320 bytes")))
		return
	}
	list, err := cs.notifications.List(c.Request.Context(), to, limit)
	if err != nil {
		httpedge.WriteError(c, apperr.Unavailable("notification log unavailable", err))
		return
	}
	items := make([]notificationView, len(list))
	for i, n := range list {
		var sent *time.Time
		if n.SentAt != nil {
			t := n.SentAt.UTC()
			sent = &t
		}
		items[i] = notificationView{ID: uuid.NewSHA1(notificationNamespace, []byte(n.ID)).String(), Channel: n.Channel, To: n.To,
			Template: n.Template, Subject: n.Subject, Body: n.Body, Status: n.Status, Attempts: n.Attempts, SentAt: sent}
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}
