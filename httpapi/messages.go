package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/apperr"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/httpedge"
	"github.com/commerce-engine/commerce/messaging"
	"github.com/commerce-engine/commerce/notify"
)

// Operations serves the operators' view of the bus and the notifier: the
// messages a consumer gave up on, their redrive, and the notification log.
type Operations struct {
	// Poison lists the poisoned messages.
	Poison messaging.PoisonStore
	// Redrive hands a poisoned message back to the consumer that failed it;
	// it returns messaging.ErrNoSuchPoisoned for an unknown id.
	Redrive func(ctx context.Context, id string) error
	// Notifications is the notifier's log: every delivery and failure.
	Notifications notify.Log
	// Relayed is how far the relay has published the log: what consumers
	// record follows it, so X-Min-Position waits for it.
	Relayed func(context.Context) (eventstore.Position, error)
}

// Mount registers the admin routes behind authn and admin; idem replays a
// redrive by Idempotency-Key.
func (o *Operations) Mount(r gin.IRouter, authn, admin, idem gin.HandlerFunc) {
	g := r.Group("/api/v1/admin", authn, admin)
	relayed := WaitFor(o.Relayed, 0)
	g.GET("/messages/poisoned", relayed, o.listPoisoned)
	g.GET("/notifications", relayed, o.listNotifications)
	g.POST("/messages/poisoned/:id/redrive", idem, o.redrive)
}

// poisonedView is one entry of GET /api/v1/admin/messages/poisoned.
type poisonedView struct {
	ID        string    `json:"id"`
	Consumer  string    `json:"consumer"`
	Topic     string    `json:"topic"`
	Reason    string    `json:"reason"`
	EventID   string    `json:"event_id"`
	EventType string    `json:"event_type"`
	StreamID  string    `json:"stream_id"`
	Position  int64     `json:"position"`
	At        time.Time `json:"at"`
}

// listPoisoned lists the messages a consumer gave up on, newest first.
func (o *Operations) listPoisoned(c *gin.Context) {
	limit, ok := queryLimit(c)
	if !ok {
		return
	}
	list, err := o.Poison.List(c.Request.Context(), limit)
	if err != nil {
		httpedge.WriteError(c, apperr.Unavailable("poison store unavailable", err))
		return
	}
	items := make([]poisonedView, len(list))
	for i, p := range list {
		items[i] = poisonedView{ID: p.ID, Consumer: p.Consumer, Topic: p.Topic, Reason: p.Reason, EventID: p.EventID,
			EventType: p.EventType, StreamID: p.StreamID, Position: int64(p.Position), At: p.At.UTC()}
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

// queryLimit reads the admin lists' limit (1..1000, default 100); a bad one
// has been answered with a 400 when ok is false.
func queryLimit(c *gin.Context) (limit int, ok bool) {
	v := c.Query("limit")
	if v == "" {
		return 100, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		httpedge.WriteError(c, apperr.Invalid("invalid limit", apperr.Field("limit", "must be 1..1000")))
		return 0, false
	}
	return n, true
}

// redrive hands a poisoned message back to the consumer that failed it.
func (o *Operations) redrive(c *gin.Context) {
	err := o.Redrive(c.Request.Context(), c.Param("id"))
	switch {
	case errors.Is(err, messaging.ErrNoSuchPoisoned):
		httpedge.WriteError(c, apperr.NotFound("not found"))
	case err != nil:
		httpedge.WriteError(c, apperr.Unavailable("redrive failed", err))
	default:
		c.JSON(http.StatusAccepted, gin.H{"id": c.Param("id"), "redriven": true})
	}
}

// notificationView is one entry of GET /api/v1/admin/notifications.
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

// notificationNamespace derives the public ids of notifications from the
// log's own.
var notificationNamespace = uuid.MustParse("3b0e5c7a-9f5d-4a41-8d2e-6f4c1b2a9e77")

// listNotifications answers GET /api/v1/admin/notifications.
func (o *Operations) listNotifications(c *gin.Context) {
	limit, ok := queryLimit(c)
	if !ok {
		return
	}
	to := c.Query("to")
	if len(to) > 320 {
		httpedge.WriteError(c, apperr.Invalid("invalid to", apperr.Field("to", "at most 320 bytes")))
		return
	}
	list, err := o.Notifications.List(c.Request.Context(), to, limit)
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
