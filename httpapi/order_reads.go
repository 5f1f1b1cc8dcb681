package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/apperr"
	"github.com/commerce-engine/commerce/auth"
	"github.com/commerce-engine/commerce/domain/customer"
	"github.com/commerce-engine/commerce/httpedge"
)

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
