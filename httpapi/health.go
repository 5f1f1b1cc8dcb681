package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/commerce-engine/commerce/httpedge"
)

// Healthz answers GET /healthz: 200 while the process serves at all.
func Healthz(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// CheckResult is one dependency's entry in the /readyz answer, as its
// probes and the end-to-end tests read it.
type CheckResult struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// Readyz answers GET /readyz: 200 when every check passes within timeout,
// 503 otherwise, with each dependency's status. Causes are logged, and
// only classified ("timeout", "unreachable") in the answer, which is
// public.
func Readyz(log *slog.Logger, timeout time.Duration, checks map[string]func(context.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), timeout)
		defer cancel()
		var (
			mu      sync.Mutex
			wg      sync.WaitGroup
			results = make(map[string]CheckResult, len(checks))
			ready   = true
		)
		for name, check := range checks {
			wg.Go(func() {
				err := check(ctx)
				res := CheckResult{Status: "up"}
				if err != nil {
					res = CheckResult{Status: "down", Error: "unreachable"}
					if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
						res.Error = "timeout"
					}
					log.WarnContext(ctx, "readiness check failed", "dependency", name, "error", err,
						"request_id", httpedge.RequestID(ctx))
				}
				mu.Lock()
				results[name] = res
				ready = ready && err == nil
				mu.Unlock()
			})
		}
		wg.Wait()
		c.Header("Cache-Control", "no-store")
		if !ready {
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "not_ready", "checks": results})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready", "checks": results})
	}
}
