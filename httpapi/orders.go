package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/apperr"
	"github.com/commerce-engine/commerce/auth"
	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/customer"
	"github.com/commerce-engine/commerce/domain/order"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/httpedge"
)

type orderStatusRequest struct {
	Status         string `json:"status"`
	Carrier        string `json:"carrier"`
	TrackingNumber string `json:"tracking_number"`
}

// setOrderStatus moves an order on: processing, shipped (with carrier and
// tracking number) or delivered. Cancellation and refunds belong to the
// checkout saga, not to this endpoint.
func (a *API) setOrderStatus(c *gin.Context) {
	id, ok := pathUUID(c, "id")
	if !ok {
		return
	}
	var req orderStatusRequest
	if err := httpedge.DecodeJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	now := a.Now()
	var cmd any
	switch req.Status {
	case "processing":
		cmd = order.StartProcessing{OrderID: id, At: now}
	case "shipped":
		var fields []apperr.FieldError
		if strings.TrimSpace(req.Carrier) == "" || len(req.Carrier) > 100 {
			fields = append(fields, apperr.Field("carrier", "is required for shipped, at most 100 bytes"))
		}
		if strings.TrimSpace(req.TrackingNumber) == "" || len(req.TrackingNumber) > 100 {
			fields = append(fields, apperr.Field("tracking_number", "is required for shipped, at most 100 bytes"))
		}
		if len(fields) > 0 {
			fail(c, apperr.Invalid("invalid status change", fields...))
			return
		}
		cmd = order.Ship{OrderID: id, Carrier: strings.TrimSpace(req.Carrier), TrackingNumber: strings.TrimSpace(req.TrackingNumber), At: now}
	case "delivered":
		cmd = order.Deliver{OrderID: id, At: now}
	default:
		fail(c, apperr.Invalid("invalid status change", apperr.Field("status", "must be processing, shipped or delivered")))
		return
	}
	if cmd != nil && req.Status != "shipped" && (req.Carrier != "" || req.TrackingNumber != "") {
		fail(c, apperr.Invalid("invalid status change", apperr.Field("carrier", "and tracking_number go with shipped only")))
		return
	}
	ctx := c.Request.Context()
	res, err := commands.Handle(ctx, a.Runner, commands.Order, order.StreamID(id), cmd, metadata(c, "status"))
	if err != nil {
		fail(c, err)
		return
	}
	a.writeOrder(c, id, res)
}

// writeOrder answers an order command with the order resource.
func (a *API) writeOrder(c *gin.Context, id string, res commands.Result[order.State]) {
	ctx := c.Request.Context()
	v := Order{ID: id, UserID: res.State.CustomerID, Status: res.State.Status.String(), Lines: []order.Line{},
		Total: res.State.Total, PaymentID: res.State.PaymentID, UpdatedAt: a.Now().UTC().Truncate(time.Microsecond)}
	if res.State.Carrier != "" {
		v.Carrier, v.TrackingNumber = &res.State.Carrier, &res.State.TrackingNumber
	}
	first, err := a.Runner.Store.ReadStream(ctx, order.StreamID(id), eventstore.ReadStreamOptions{Limit: 1})
	if err == nil && len(first) == 1 {
		if p, derr := a.Runner.Codec.Decode(first[0]); derr == nil {
			if placed, ok := p.(order.Placed); ok {
				// Microseconds, as the read models store times.
				v.Lines, v.CreatedAt = placed.Lines, placed.At.UTC().Truncate(time.Microsecond)
			}
		}
	}
	answer(c, http.StatusOK, res.Position, v)
}

// mountOrders registers the order reads: a shopper sees only their own
// orders, an admin anyone's. Another shopper's order is a 404, like one
// that does not exist, so order ids cannot be probed.
func (a *Reads) mountOrders(v1 gin.IRouter, authn gin.HandlerFunc) {
	v1.GET("/orders/user/:userId", authn, a.waitFor(a.through("orders", a.Orders)), a.ordersOfUser)
	v1.GET("/orders/:id", authn, a.waitFor(a.through("orders", a.Orders)), a.getOrder)
}

func (a *Reads) ordersOfUser(c *gin.Context) {
	claims, _ := auth.ClaimsFrom(c)
	user := c.Param("userId")
	// Another shopper's history is a 404 like a user that does not exist.
	if _, err := uuid.Parse(user); err != nil || (claims.Role != customer.RoleAdmin && user != claims.UserID) {
		httpedge.WriteError(c, apperr.NotFound("not found"))
		return
	}
	items, err := a.Orders.OrdersOf(c.Request.Context(), user)
	if err != nil {
		httpedge.WriteError(c, modelUnavailable("orders", err))
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": mapSlice(items, orderOfModel)})
}

func (a *Reads) getOrder(c *gin.Context) {
	claims, _ := auth.ClaimsFrom(c)
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		httpedge.WriteError(c, apperr.NotFound("not found"))
		return
	}
	o, ok, err := a.Orders.Order(c.Request.Context(), id.String())
	if err != nil {
		httpedge.WriteError(c, modelUnavailable("orders", err))
		return
	}
	if !ok || (claims.Role != customer.RoleAdmin && o.UserID != claims.UserID) {
		httpedge.WriteError(c, apperr.NotFound("not found"))
		return
	}
	c.JSON(http.StatusOK, orderOfModel(o))
}
