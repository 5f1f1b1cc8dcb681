package httpedge

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/commerce-engine/commerce/apperr"
)

// CORSConfig says which browser origins may call the API. The zero value
// allows no origin: cross-origin browsers are refused until origins are
// listed. Empty method, header and exposed-header lists get the defaults.
type CORSConfig struct {
	// AllowedOrigins are exact origins ("https://shop.example"); "*" allows any.
	AllowedOrigins []string
	// AllowedMethods default to GET, HEAD, POST, PUT, PATCH and DELETE.
	AllowedMethods []string
	// AllowedHeaders default to Authorization, Content-Type, Idempotency-Key,
	// X-Min-Position, X-Request-ID and X-Correlation-ID.
	AllowedHeaders []string
	// ExposedHeaders default to X-Event-Position, X-Request-ID,
	// X-Correlation-ID, Retry-After and Idempotent-Replayed.
	ExposedHeaders []string
	// MaxAge is how long a browser may cache a preflight answer; default 10 minutes.
	MaxAge time.Duration
}

func (c *CORSConfig) setDefaults() {
	if len(c.AllowedMethods) == 0 {
		c.AllowedMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	}
	if len(c.AllowedHeaders) == 0 {
		c.AllowedHeaders = []string{"Authorization", "Content-Type", HeaderIdempotencyKey, HeaderMinPosition, HeaderRequestID, HeaderCorrelationID}
	}
	if len(c.ExposedHeaders) == 0 {
		c.ExposedHeaders = []string{HeaderEventPosition, HeaderRequestID, HeaderCorrelationID, "Retry-After", HeaderIdempotentReplayed}
	}
	if c.MaxAge == 0 {
		c.MaxAge = 10 * time.Minute
	}
}

// CORS answers preflight requests (OPTIONS with Access-Control-Request-Method)
// itself: 204 with the allowed methods and headers for an allowed origin, a
// 403 problem otherwise. On other requests from an allowed origin it adds
// Access-Control-Allow-Origin and the exposed headers; requests from other
// origins run without them, so the browser withholds the answer.
func CORS(cfg CORSConfig) gin.HandlerFunc {
	cfg.setDefaults()
	anyOrigin := slices.Contains(cfg.AllowedOrigins, "*")
	allowed := func(origin string) bool {
		return anyOrigin || slices.Contains(cfg.AllowedOrigins, origin)
	}
	methods := strings.Join(cfg.AllowedMethods, ", ")
	headers := strings.Join(cfg.AllowedHeaders, ", ")
	exposed := strings.Join(cfg.ExposedHeaders, ", ")
	maxAge := strconv.Itoa(int(cfg.MaxAge.Seconds()))
	return func(c *gin.Context) {
		origin := c.GetHeader("Origin")
		if origin == "" {
			c.Next()
			return
		}
		c.Writer.Header().Add("Vary", "Origin")
		preflight := c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != ""
		if !allowed(origin) {
			if preflight {
				WriteError(c, apperr.Forbidden("origin "+strconv.Quote(origin)+" is not allowed"))
				return
			}
			c.Next()
			return
		}
		c.Header("Access-Control-Allow-Origin", origin)
		if preflight {
			c.Writer.Header().Add("Vary", "Access-Control-Request-Method")
			c.Writer.Header().Add("Vary", "Access-Control-Request-Headers")
			c.Header("Access-Control-Allow-Methods", methods)
			c.Header("Access-Control-Allow-Headers", headers)
			c.Header("Access-Control-Max-Age", maxAge)
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
		c.Header("Access-Control-Expose-Headers", exposed)
		c.Next()
	}
}
