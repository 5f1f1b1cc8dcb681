package readapi

import (
	"net/http"
	"sort"

	"github.com/gin-gonic/gin"

	"github.com/commerce-engine/commerce/projections"
)

// projectionView is one entry of GET /api/v1/admin/projections.
type projectionView struct {
	Name     string  `json:"name"`
	Position int64   `json:"position"`
	Head     int64   `json:"head"`
	Lag      int64   `json:"lag"`
	Status   string  `json:"status"`
	Error    *string `json:"error"`
	// FailedAt names the event a failed projection is stuck on.
	FailedAt *projections.EventRef `json:"failed_at,omitempty"`
}

// MountAdmin registers the admin read routes behind authn and admin.
func (a *API) MountAdmin(r gin.IRouter, authn, admin gin.HandlerFunc) {
	g := r.Group("/api/v1/admin", authn, admin)
	g.GET("/projections", a.projections)
	if a.Store != nil {
		g.GET("/streams/:stream_id/events", a.streamEvents)
		g.GET("/orders/:id/state", a.orderState)
		g.GET("/orders/:id/timeline", a.waitForCorrelations, a.timeline)
	}
}

func (a *API) projections(c *gin.Context) {
	items := []projectionView{}
	if a.Projections != nil {
		for _, s := range a.Projections.Statuses() {
			v := projectionView{Name: s.Name, Position: int64(s.Position), Head: int64(s.Head), Lag: s.Lag(), Status: string(s.State), FailedAt: s.FailedAt}
			if s.Error != "" {
				msg := s.Error
				v.Error = &msg
			}
			items = append(items, v)
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	c.JSON(http.StatusOK, gin.H{"items": items})
}

// waitForCorrelations applies X-Min-Position to the correlation index.
func (a *API) waitForCorrelations(c *gin.Context) {
	if a.Correlations == nil {
		c.Next()
		return
	}
	a.waitFor(a.through("correlations", a.Correlations))(c)
}
