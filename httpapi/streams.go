package httpapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/apperr"
	"github.com/commerce-engine/commerce/domain/order"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/httpedge"
	"github.com/commerce-engine/commerce/projections"
)

// streamEvents is the raw stream browser: any stream's events from a
// version, straight from the event store (admins only).
func (a *Reads) streamEvents(c *gin.Context) {
	stream := c.Param("stream_id")
	if err := eventstore.ValidateStreamID(stream); err != nil {
		httpedge.WriteError(c, apperr.NotFound("not found"))
		return
	}
	var fields []apperr.FieldError
	from, limit := int64(1), 100
	if raw := c.Query("from_version"); raw != "" {
		v, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || v < 1 {
			fields = append(fields, apperr.Field("from_version", "must be a version >= 1"))
		}
		from = v
	}
	if raw := c.Query("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 1000 {
			fields = append(fields, apperr.Field("limit", "must be between 1 and 1000"))
		}
		limit = n
	}
	if len(fields) > 0 {
		httpedge.WriteError(c, apperr.Invalid("invalid stream query", fields...))
		return
	}
	evs, err := a.Store.ReadStream(c.Request.Context(), stream, eventstore.ReadStreamOptions{From: from, Limit: limit})
	if err != nil {
		httpedge.WriteError(c, err)
		return
	}
	out := make([]Event, 0, len(evs))
	for _, e := range evs {
		out = append(out, NewEvent(e))
	}
	c.JSON(http.StatusOK, gin.H{"events": out})
}

// orderState replays the order's stream up to at_position through the
// orders projection's fold and answers the order resource as it was then,
// the shape GET /api/v1/orders/{id} answers; an order that did not exist
// yet is a 404.
func (a *Reads) orderState(c *gin.Context) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		httpedge.WriteError(c, apperr.NotFound("not found"))
		return
	}
	at, err := strconv.ParseInt(c.Query("at_position"), 10, 64)
	if err != nil || at < 0 {
		httpedge.WriteError(c, apperr.Invalid("invalid state query", apperr.Field("at_position", "is required, a position >= 0")))
		return
	}
	evs, err := a.Store.ReadStream(c.Request.Context(), order.StreamID(id.String()), eventstore.ReadStreamOptions{Limit: eventstore.MaxReadLimit})
	if err != nil {
		httpedge.WriteError(c, err)
		return
	}
	var o projections.Order
	exists := false
	for _, e := range evs {
		if e.Position > eventstore.Position(at) {
			break
		}
		next, placed, err := projections.FoldOrder(a.Codec, o, exists, e)
		if err != nil {
			httpedge.WriteError(c, apperr.Internal(errors.Join(errors.New("fold order event"), err)))
			return
		}
		o, exists = next, exists || placed
	}
	if !exists {
		httpedge.WriteError(c, apperr.NotFound("not found"))
		return
	}
	c.JSON(http.StatusOK, orderOfModel(o))
}

// timeline answers every event of an order's checkout, across streams,
// oldest first: the events sharing the correlation id of the order's first
// event, and every event of the order's own stream (status changes made
// later by admins carry their own request's correlation).
func (a *Reads) timeline(c *gin.Context) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		httpedge.WriteError(c, apperr.NotFound("not found"))
		return
	}
	var corr projections.CorrelationReader
	if a.Correlations != nil {
		corr = a.Correlations
	}
	evs, err := projections.Timeline(c.Request.Context(), a.Store, corr, order.StreamID(id.String()))
	if errors.Is(err, projections.ErrNoSuchOrder) {
		httpedge.WriteError(c, apperr.NotFound("not found"))
		return
	}
	if err != nil {
		httpedge.WriteError(c, modelUnavailable("timelines", err))
		return
	}
	out := make([]Event, 0, len(evs))
	for _, e := range evs {
		out = append(out, NewEvent(e))
	}
	c.JSON(http.StatusOK, Timeline{OrderID: id.String(), Events: out})
}
