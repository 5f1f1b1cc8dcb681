package httpapi

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/commerce-engine/commerce/apperr"
	"github.com/commerce-engine/commerce/httpedge"
	"github.com/commerce-engine/commerce/projections"
)

// MountAdmin registers the admin read routes behind authn and admin.
func (a *Reads) MountAdmin(r gin.IRouter, authn, admin gin.HandlerFunc) {
	g := r.Group("/api/v1/admin", authn, admin)
	g.GET("/projections", a.projections)
	if a.Rebuilds != nil {
		g.POST("/projections/:name/rebuild", a.rebuild)
	}
	if a.Store != nil {
		g.GET("/streams/:stream_id/events", a.streamEvents)
		g.GET("/orders/:id/state", a.orderState)
		g.GET("/orders/:id/timeline", a.waitForCorrelations, a.timeline)
	}
}

func (a *Reads) projections(c *gin.Context) {
	items := []projectionView{}
	if a.Projections != nil {
		for _, s := range a.Projections.Statuses() {
			v := projectionView{Name: s.Name, Position: int64(s.Position), Head: int64(s.Head), Lag: s.Lag(), Status: string(s.State), FailedAt: s.FailedAt}
			if s.Error != "" {
				msg := s.Error
				v.Error = &msg
			}
			if a.Rebuilds != nil {
				if r, ok := a.Rebuilds.Status(s.Name); ok {
					rv := rebuildOfStatus(r)
					v.Rebuild = &rv
				}
			}
			items = append(items, v)
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	c.JSON(http.StatusOK, gin.H{"items": items})
}

// waitForCorrelations applies X-Min-Position to the correlation index.
func (a *Reads) waitForCorrelations(c *gin.Context) {
	if a.Correlations == nil {
		c.Next()
		return
	}
	a.waitFor(a.through("correlations", a.Correlations))(c)
}

// rebuild starts replaying a projection into a new generation; reads stay
// on the old one until the new one has caught up and is swapped in.
func (a *Reads) rebuild(c *gin.Context) {
	name := c.Param("name")
	ctx := a.Lifetime
	if ctx == nil {
		ctx = context.Background()
	}
	err := a.Rebuilds.Start(ctx, name)
	switch {
	case errors.Is(err, projections.ErrUnknownProjection):
		httpedge.WriteError(c, apperr.NotFound("no projection is named "+strconv.Quote(name)))
		return
	case errors.Is(err, projections.ErrRebuildRunning):
		httpedge.WriteError(c, apperr.Conflict("a rebuild of "+strconv.Quote(name)+" is already running", err))
		return
	case err != nil:
		httpedge.WriteError(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"name": name, "status": "rebuilding"})
}
