package httpedge

import (
	"errors"
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"
)

// Config is what the edge can be told; cmd/commerce fills it from its own
// configuration. Zero fields get the defaults.
type Config struct {
	// Log receives the access log, panics and internal errors; nil discards.
	Log *slog.Logger
	// Metrics records request counts and durations; nil records none.
	Metrics *Metrics
	// MaxBodyBytes caps request bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Timeout is each request's context deadline; 0 means DefaultTimeout.
	Timeout time.Duration
	// CORS lists the browser origins allowed; the zero value allows none.
	CORS CORSConfig
	// QuietRoutes are route templates (probes, scrapes) logged at debug level.
	QuietRoutes []string
	// StreamRoutes are route templates that stream for as long as the
	// client stays (server-sent events): Timeout does not bound them.
	StreamRoutes []string
	// Trace, when set, runs before every other middleware (it starts the
	// request's span), so that the access log and every other line logged
	// for the request carry the span; nil traces nothing.
	Trace gin.HandlerFunc
}

func (c *Config) setDefaults() {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	c.CORS.setDefaults()
}

// Validate reports a configuration the edge cannot run with.
func (c Config) Validate() error {
	var errs []error
	if c.MaxBodyBytes < 0 {
		errs = append(errs, errors.New("httpedge: MaxBodyBytes is negative"))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("httpedge: Timeout is negative"))
	}
	if c.CORS.MaxAge < 0 {
		errs = append(errs, errors.New("httpedge: CORS.MaxAge is negative"))
	}
	return errors.Join(errs...)
}

// New returns the one gin engine of the API with the edge's middleware in
// order (tracing, request ids, access log and metrics, recovery, CORS, body
// limit, timeout) and problem+json answers for unknown paths (404) and methods
// (405). Routes are added by the caller; Idempotency is mounted per route
// group, after authentication, since its scope is the caller. It returns
// cfg's Validate error, if any.
func New(cfg Config) (*gin.Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	r := gin.New()
	r.ContextWithFallback = true
	r.HandleMethodNotAllowed = true
	_ = r.SetTrustedProxies(nil) // only ever nil: cannot fail
	if cfg.Trace != nil {
		r.Use(cfg.Trace)
	}
	r.Use(
		RequestIDs(),
		AccessLog(cfg.Log, cfg.Metrics, cfg.QuietRoutes...),
		Recovery(cfg.Log),
		CORS(cfg.CORS),
		BodyLimit(cfg.MaxBodyBytes),
		Timeout(cfg.Timeout, cfg.StreamRoutes...),
	)
	r.NoRoute(NoRoute)
	r.NoMethod(NoMethod)
	return r, nil
}
