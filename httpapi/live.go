package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/commerce-engine/commerce/apperr"
	"github.com/commerce-engine/commerce/auth"
	"github.com/commerce-engine/commerce/httpedge"
	"github.com/commerce-engine/commerce/live"
)

// DefaultLiveHeartbeat is the interval between keep-alive comments when
// LiveHandler is given none: below common proxy idle timeouts (60 s).
const DefaultLiveHeartbeat = 15 * time.Second

// liveWriteTimeout bounds each write, so that a client that stopped reading
// cannot hold the handler (and its subscription) forever.
const liveWriteTimeout = 10 * time.Second

// LiveHandler serves GET /api/v1/orders/live as text/event-stream for the
// caller authenticated by auth.Authenticate (401 problem without claims):
// an initial comment, then each of the caller's order updates as
// "event: order" with the Update as JSON data, and a comment every
// heartbeat (DefaultLiveHeartbeat for heartbeat <= 0). It returns when the
// client goes away, a write fails or times out, or the hub is closed.
//
// Hazard: a per-request deadline (httpedge.Timeout) ends the stream at the
// deadline; mount the route outside it. The client's EventSource
// reconnects on its own.
func LiveHandler(h *live.Hub, heartbeat time.Duration) gin.HandlerFunc {
	if heartbeat <= 0 {
		heartbeat = DefaultLiveHeartbeat
	}
	return func(c *gin.Context) {
		claims, ok := auth.ClaimsFrom(c)
		if !ok || claims.UserID == "" {
			httpedge.WriteError(c, apperr.Unauthorized("invalid or expired token"))
			c.Abort()
			return
		}
		updates, cancel := h.Subscribe(claims.UserID)
		defer cancel()

		w := c.Writer
		rc := http.NewResponseController(w)
		hdr := w.Header()
		hdr.Set("Content-Type", "text/event-stream")
		hdr.Set("Cache-Control", "no-store")
		hdr.Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		log := slog.Default().With("user_id", claims.UserID)
		send := func(frame string) bool {
			if err := rc.SetWriteDeadline(time.Now().Add(liveWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
				log.Debug("live: set write deadline", "err", err)
			}
			if _, err := fmt.Fprint(w, frame); err != nil {
				log.Debug("live: client gone", "err", err)
				return false
			}
			w.Flush()
			return true
		}
		if !send(": connected\n\n") {
			return
		}
		ticker := time.NewTicker(heartbeat)
		defer ticker.Stop()
		ctx := c.Request.Context()
		for {
			select {
			case <-ctx.Done():
				return
			case u, ok := <-updates:
				if !ok {
					return
				}
				data, err := json.Marshal(u)
				if err != nil {
					log.Error("live: encode update", "order_id", u.OrderID, "err", err)
					continue
				}
				if !send("event: order\ndata: " + string(data) + "\n\n") {
					return
				}
			case <-ticker.C:
				if !send(": heartbeat\n\n") {
					return
				}
			}
		}
	}
}
