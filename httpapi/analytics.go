package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/commerce-engine/commerce/apperr"
	"github.com/commerce-engine/commerce/httpedge"
	"github.com/commerce-engine/commerce/projections/analytics"
)

// Bounds of the analytics queries.
const (
	// analyticsDefaultDays is the range when from is not given.
	analyticsDefaultDays = 30
	// analyticsMaxYears caps a range, so one request cannot scan the
	// whole history day by day.
	analyticsMaxYears = 3
	// analyticsDefaultLimit and analyticsMaxLimit bound top-products.
	analyticsDefaultLimit = 10
	analyticsMaxLimit     = 100
)

// MountAnalytics registers the analytics reads on r behind authn and allow
// (the caller passes auth.RequireRole(customer.RoleAdmin, customer.RoleAnalyst)). A nil
// authn or allow fails closed: every request is refused with 403.
func (a *Reads) MountAnalytics(r gin.IRouter, authn, allow gin.HandlerFunc, reader analytics.Reader) {
	deny := func(c *gin.Context) {
		httpedge.WriteError(c, apperr.Forbidden("analytics are not enabled for any role"))
		c.Abort()
	}
	if authn == nil || allow == nil {
		authn, allow = deny, deny
	}
	wait := a.waitFor(a.through(analytics.Name, reader))
	g := r.Group("/api/v1/analytics")
	g.GET("/sales", authn, allow, wait, analyticsSales(reader))
	g.GET("/top-products", authn, allow, wait, analyticsTopProducts(reader))
	g.GET("/funnel", authn, allow, wait, analyticsFunnel(reader))
}

func analyticsSales(reader analytics.Reader) gin.HandlerFunc {
	return func(c *gin.Context) {
		from, to, fields := analyticsRange(c)
		granularity := c.DefaultQuery("granularity", analytics.GranularityDay)
		switch granularity {
		case analytics.GranularityDay, analytics.GranularityWeek, analytics.GranularityMonth:
		default:
			fields = append(fields, apperr.Field("granularity", "must be day, week or month"))
		}
		if len(fields) > 0 {
			httpedge.WriteError(c, apperr.Invalid("invalid sales query", fields...))
			return
		}
		series, err := reader.Sales(c.Request.Context(), from, to, granularity)
		if err != nil {
			httpedge.WriteError(c, modelUnavailable("analytics", err))
			return
		}
		c.JSON(http.StatusOK, gin.H{"series": series})
	}
}

func analyticsTopProducts(reader analytics.Reader) gin.HandlerFunc {
	return func(c *gin.Context) {
		from, to, fields := analyticsRange(c)
		limit := analyticsDefaultLimit
		if raw, ok := c.GetQuery("limit"); ok {
			n, err := strconv.Atoi(raw)
			if err != nil || n < 1 || n > analyticsMaxLimit {
				fields = append(fields, apperr.Field("limit", "must be a whole number between 1 and 100"))
			}
			limit = n
		}
		if len(fields) > 0 {
			httpedge.WriteError(c, apperr.Invalid("invalid top-products query", fields...))
			return
		}
		items, err := reader.TopProducts(c.Request.Context(), from, to, limit)
		if err != nil {
			httpedge.WriteError(c, modelUnavailable("analytics", err))
			return
		}
		c.JSON(http.StatusOK, gin.H{"items": items})
	}
}

func analyticsFunnel(reader analytics.Reader) gin.HandlerFunc {
	return func(c *gin.Context) {
		from, to, fields := analyticsRange(c)
		if len(fields) > 0 {
			httpedge.WriteError(c, apperr.Invalid("invalid funnel query", fields...))
			return
		}
		f, err := reader.Funnel(c.Request.Context(), from, to)
		if err != nil {
			httpedge.WriteError(c, modelUnavailable("analytics", err))
			return
		}
		c.JSON(http.StatusOK, f)
	}
}

// analyticsRange reads from and to (YYYY-MM-DD or RFC 3339) as UTC days:
// to defaults to tomorrow, from to 30 days before to; from must come
// before to, at most three years before.
func analyticsRange(c *gin.Context) (from, to time.Time, fields []apperr.FieldError) {
	day := func(name string) (time.Time, bool) {
		raw, ok := c.GetQuery(name)
		if !ok {
			return time.Time{}, false
		}
		t, err := time.Parse(time.DateOnly, raw)
		if err != nil {
			t, err = time.Parse(time.RFC3339, raw)
		}
		if err != nil {
			fields = append(fields, apperr.Field(name, "must be a date (2026-11-26) or an RFC 3339 time"))
			return time.Time{}, false
		}
		t = t.UTC()
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), true
	}
	now := time.Now().UTC()
	to, okTo := day("to")
	if !okTo {
		to = time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
	}
	from, okFrom := day("from")
	if !okFrom {
		from = to.AddDate(0, 0, -analyticsDefaultDays)
	}
	if len(fields) > 0 {
		return from, to, fields
	}
	switch {
	case !from.Before(to):
		fields = append(fields, apperr.Field("to", "must be a later day than from"))
	case to.After(from.AddDate(analyticsMaxYears, 0, 0)):
		fields = append(fields, apperr.Field("from", "the range spans at most 3 years"))
	case from.Year() < 1 || to.Year() > 9999:
		fields = append(fields, apperr.Field("from", "must be between years 1 and 9999"))
	}
	return from, to, fields
}
