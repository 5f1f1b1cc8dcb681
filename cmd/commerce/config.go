package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/commerce-engine/commerce/eventstore/esdb"
	"github.com/commerce-engine/commerce/internal/app"
)

// Config is everything the engine can be told at start. It is filled from
// defaults, then the environment, then command-line flags, and checked by
// Validate; adapters receive plain fields taken from it, never the
// environment. Empty optional fields mean "use the embedded default".
type Config struct {
	// HTTPAddr is the listen address of the HTTP server (COMMERCE_HTTP_ADDR).
	HTTPAddr string
	// DataDir holds the embedded stores' files (COMMERCE_DATA_DIR).
	DataDir string
	// EventStoreURL selects the event store (COMMERCE_EVENTSTORE_URL): empty
	// for embedded SQLite, postgres:// for PostgreSQL, esdb:// or kurrentdb://
	// for KurrentDB / EventStoreDB.
	EventStoreURL string
	// EventStoreNamespace prefixes every stream name in KurrentDB with
	// "<namespace>:" (COMMERCE_EVENTSTORE_NAMESPACE), so several shops
	// share one server.
	EventStoreNamespace string
	// ReadModelURL is the PostgreSQL database of the read models
	// (COMMERCE_READMODEL_URL); empty keeps them in memory.
	ReadModelURL string
	// AnalystPassword is the password `commerce migrate` sets on the
	// read-only commerce_analyst PostgreSQL role (COMMERCE_ANALYST_PASSWORD);
	// empty leaves it unchanged (no password: it cannot log in by password).
	AnalystPassword Secret
	// RedisURL is the cache and cart store (COMMERCE_REDIS_URL); empty keeps
	// them in memory.
	RedisURL string
	// AMQPURL is the RabbitMQ broker (COMMERCE_AMQP_URL); empty uses an
	// in-process channel.
	AMQPURL string
	// StripeSecretKey switches payments to Stripe (STRIPE_SECRET_KEY); empty
	// uses the offline provider.
	StripeSecretKey Secret
	// StripeWebhookSecret verifies Stripe's webhook signatures
	// (STRIPE_WEBHOOK_SECRET).
	StripeWebhookSecret Secret
	// StripeAPIBase points the Stripe client elsewhere, e.g. at stripe-mock
	// (STRIPE_API_BASE); empty is Stripe's own API.
	StripeAPIBase string
	// SMTPURL is the mail server (COMMERCE_SMTP_URL); empty writes emails to
	// the log.
	SMTPURL string
	// MailFrom is the sender address of every email (COMMERCE_MAIL_FROM).
	MailFrom string
	// PublicURL prefixes the links in emails, e.g. https://shop.example
	// (COMMERCE_PUBLIC_URL); empty gives links relative to the shop.
	PublicURL string
	// JWTSecret signs access tokens (COMMERCE_JWT_SECRET); empty generates one
	// per process, so tokens do not survive a restart.
	JWTSecret Secret
	// AdminEmail is the first admin's login, created at start if missing
	// (COMMERCE_ADMIN_EMAIL); it needs AdminPassword.
	AdminEmail string
	// AdminPassword is the first admin's password (COMMERCE_ADMIN_PASSWORD).
	AdminPassword Secret
	// Roles are the parts of the engine this process runs (COMMERCE_ROLES).
	Roles []Role
	// LogLevel is the lowest level logged (COMMERCE_LOG_LEVEL).
	LogLevel slog.Level
	// ShutdownTimeout bounds how long in-flight requests may take to finish
	// once a stop is asked for (COMMERCE_SHUTDOWN_TIMEOUT).
	ShutdownTimeout time.Duration
	// CheckoutExpiry is how long a checkout holds its stock waiting for the
	// payment (COMMERCE_CHECKOUT_EXPIRY, default 15m).
	CheckoutExpiry time.Duration
	// CORSOrigins are the browser origins allowed to call the API
	// (COMMERCE_CORS_ORIGINS); empty allows none.
	CORSOrigins []string
	// TracingEndpoint is the base URL of an OTLP/HTTP collector that spans
	// are exported to (OTEL_EXPORTER_OTLP_ENDPOINT); empty exports none.
	TracingEndpoint string
	// DebugAddr serves Go's profiler (net/http/pprof) on a listener of its
	// own (COMMERCE_DEBUG_ADDR), for profiling a running engine; empty (the
	// default) serves none. Never on the public address.
	DebugAddr string
}

// Role is one part of the engine a process can run (app.Role).
type Role = app.Role

// The roles a process can run; by default it runs all of them.
const (
	// RoleAPI serves the shop's HTTP API (writes and reads).
	RoleAPI = app.RoleAPI
	// RoleProjector turns events into read models.
	RoleProjector = app.RoleProjector
	// RoleSaga drives checkouts: reservations, payments, orders.
	RoleSaga = app.RoleSaga
	// RoleNotifier sends emails and pushes to shoppers.
	RoleNotifier = app.RoleNotifier
	// RoleRelay publishes recorded events to the message bus.
	RoleRelay = app.RoleRelay
)

// AllRoles lists every role, in the order they are documented.
func AllRoles() []Role { return app.AllRoles() }

// Secret is a string that must never reach a log, an error or a terminal:
// every way of printing it shows "[redacted]" (or nothing when it is empty).
// Use string(s) where the value itself is needed.
type Secret string

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString hides the value from %#v.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// LogValue hides the value from slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText hides the value from encoders (JSON, YAML, ...).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Minimum lengths of the secrets people choose themselves.
const (
	// MinJWTSecretLength is 32 bytes: an HMAC-SHA256 key shorter than its
	// output is guessable.
	MinJWTSecretLength = 32
	// MinAdminPasswordLength keeps the bootstrap admin from having a toy
	// password.
	MinAdminPasswordLength = 12
)

// DefaultConfig returns the configuration of a process given nothing: every
// role on the embedded default under ./data, listening on :8080.
func DefaultConfig() Config {
	return Config{
		HTTPAddr:        ":8080",
		DataDir:         "./data",
		Roles:           AllRoles(),
		LogLevel:        slog.LevelInfo,
		ShutdownTimeout: 15 * time.Second,
		CheckoutExpiry:  15 * time.Minute,
		MailFrom:        "commerce@localhost",
	}
}

// SplitRoles reports whether this process runs only some of the roles:
// the others run in other processes sharing PostgreSQL, Redis and RabbitMQ.
func (c Config) SplitRoles() bool {
	for _, r := range AllRoles() {
		if !c.HasRole(r) {
			return true
		}
	}
	return false
}

// HasRole reports whether the process runs role r.
func (c Config) HasRole(r Role) bool { return slices.Contains(c.Roles, r) }

// ConfigError names the setting a bad value came from, as its environment
// variable and its flag, so the operator knows what to fix.
type ConfigError struct {
	// Env is the environment variable, e.g. COMMERCE_HTTP_ADDR.
	Env string
	// Flag is the flag's name without its dash, e.g. http-addr.
	Flag string
	// Reason says what is wrong; it never contains a secret.
	Reason string
}

// Error says which variable (and flag) is wrong and why.
func (e *ConfigError) Error() string {
	return fmt.Sprintf("%s (flag -%s): %s", e.Env, e.Flag, e.Reason)
}

// Environment variable names, in the README's order.
const (
	envHTTPAddr            = "COMMERCE_HTTP_ADDR"
	envDataDir             = "COMMERCE_DATA_DIR"
	envEventStoreURL       = "COMMERCE_EVENTSTORE_URL"
	envEventStoreNamespace = "COMMERCE_EVENTSTORE_NAMESPACE"
	envReadModelURL        = "COMMERCE_READMODEL_URL"
	envRedisURL            = "COMMERCE_REDIS_URL"
	envAnalystPassword     = "COMMERCE_ANALYST_PASSWORD"
	envAMQPURL             = "COMMERCE_AMQP_URL"
	envStripeSecretKey     = "STRIPE_SECRET_KEY"
	envStripeWebhookSecret = "STRIPE_WEBHOOK_SECRET" //nolint:gosec // G101: the variable's name, not a secret
	envStripeAPIBase       = "STRIPE_API_BASE"
	envSMTPURL             = "COMMERCE_SMTP_URL"
	envMailFrom            = "COMMERCE_MAIL_FROM"
	envPublicURL           = "COMMERCE_PUBLIC_URL"
	envJWTSecret           = "COMMERCE_JWT_SECRET" //nolint:gosec // G101: the variable's name, not a secret
	envAdminEmail          = "COMMERCE_ADMIN_EMAIL"
	envAdminPassword       = "COMMERCE_ADMIN_PASSWORD"
	envRoles               = "COMMERCE_ROLES"
	envLogLevel            = "COMMERCE_LOG_LEVEL"
	envShutdownTimeout     = "COMMERCE_SHUTDOWN_TIMEOUT"
	envCheckoutExpiry      = "COMMERCE_CHECKOUT_EXPIRY"
	envCORSOrigins         = "COMMERCE_CORS_ORIGINS"
	envDebugAddr           = "COMMERCE_DEBUG_ADDR"
	// envTracingEndpoint keeps OpenTelemetry's standard name.
	envTracingEndpoint = "OTEL_EXPORTER_OTLP_ENDPOINT"
)

// setting binds one Config field to its environment variable and flag. set
// parses a raw value; for secrets and URLs it only stores it, so that no
// parse error can echo a secret (Validate checks them and redacts).
type setting struct {
	env, flag, usage string
	set              func(c *Config, v string) error
}

func str(p func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *p(c) = v; return nil }
}

func secret(p func(*Config) *Secret) func(*Config, string) error {
	return func(c *Config, v string) error { *p(c) = Secret(v); return nil }
}

var settings = []setting{
	{envHTTPAddr, "http-addr", "HTTP listen `address` (default \":8080\")",
		str(func(c *Config) *string { return &c.HTTPAddr })},
	{envDataDir, "data-dir", "`directory` of the embedded stores (default \"./data\")",
		str(func(c *Config) *string { return &c.DataDir })},
	{envEventStoreURL, "eventstore-url", "event store `url`: empty for embedded SQLite, postgres://..., esdb://... or kurrentdb://...",
		str(func(c *Config) *string { return &c.EventStoreURL })},
	{envEventStoreNamespace, "eventstore-namespace", "`prefix` of every stream name in KurrentDB/EventStoreDB, to share a server (empty: none)",
		str(func(c *Config) *string { return &c.EventStoreNamespace })},
	{envReadModelURL, "readmodel-url", "PostgreSQL `url` of the read models (empty: in memory)",
		str(func(c *Config) *string { return &c.ReadModelURL })},
	{envAnalystPassword, "analyst-password", "`password` of the read-only commerce_analyst PostgreSQL role (needs the read models in PostgreSQL); prefer the environment",
		secret(func(c *Config) *Secret { return &c.AnalystPassword })},
	{envRedisURL, "redis-url", "Redis `url` of cache and carts (empty: in memory)",
		str(func(c *Config) *string { return &c.RedisURL })},
	{envAMQPURL, "amqp-url", "RabbitMQ `url` (empty: in-process channel)",
		str(func(c *Config) *string { return &c.AMQPURL })},
	{envStripeSecretKey, "stripe-secret-key", "Stripe secret `key` sk_... (empty: offline payments); prefer the environment",
		secret(func(c *Config) *Secret { return &c.StripeSecretKey })},
	{envStripeWebhookSecret, "stripe-webhook-secret", "Stripe webhook signing `secret` whsec_...; prefer the environment",
		secret(func(c *Config) *Secret { return &c.StripeWebhookSecret })},
	{envStripeAPIBase, "stripe-api-base", "Stripe API base `url`, e.g. stripe-mock's (empty: Stripe)",
		str(func(c *Config) *string { return &c.StripeAPIBase })},
	{envSMTPURL, "smtp-url", "SMTP `url` smtp://... or smtps://... (empty: emails go to the log)",
		str(func(c *Config) *string { return &c.SMTPURL })},
	{envMailFrom, "mail-from", "sender `address` of emails (default \"commerce@localhost\")",
		str(func(c *Config) *string { return &c.MailFrom })},
	{envPublicURL, "public-url", "base `url` of links in emails, e.g. https://shop.example (empty: relative links)",
		str(func(c *Config) *string { return &c.PublicURL })},
	{envJWTSecret, "jwt-secret", fmt.Sprintf("token signing `secret`, at least %d bytes (empty: random per process); prefer the environment", MinJWTSecretLength),
		secret(func(c *Config) *Secret { return &c.JWTSecret })},
	{envAdminEmail, "admin-email", "`email` of the first admin, created at start if missing",
		str(func(c *Config) *string { return &c.AdminEmail })},
	{envAdminPassword, "admin-password", fmt.Sprintf("`password` of the first admin, at least %d characters; prefer the environment", MinAdminPasswordLength),
		secret(func(c *Config) *Secret { return &c.AdminPassword })},
	{envRoles, "roles", "comma `list` of api, projector, saga, notifier, relay (default all)",
		func(c *Config, v string) error {
			roles, err := parseRoles(v)
			c.Roles = roles
			return err
		}},
	{envLogLevel, "log-level", "`level`: debug, info, warn or error (default \"info\")",
		func(c *Config, v string) error {
			var l slog.Level
			if err := l.UnmarshalText([]byte(v)); err != nil {
				return fmt.Errorf("%q is not a log level: use debug, info, warn or error", v)
			}
			c.LogLevel = l
			return nil
		}},
	{envShutdownTimeout, "shutdown-timeout", "how long in-flight requests may take to finish at a stop, a `duration` (default \"15s\")",
		func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%q is not a duration such as 15s or 1m", v)
			}
			c.ShutdownTimeout = d
			return nil
		}},
	{envCheckoutExpiry, "checkout-expiry", "how long a checkout holds its stock waiting for payment, a `duration` (default \"15m\")",
		func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%q is not a duration such as 15m", v)
			}
			c.CheckoutExpiry = d
			return nil
		}},
	{envCORSOrigins, "cors-origins", "comma `list` of browser origins allowed to call the API, e.g. https://shop.example (default none)",
		func(c *Config, v string) error {
			c.CORSOrigins = nil
			for part := range strings.SplitSeq(v, ",") {
				o := strings.TrimSpace(part)
				if o == "" {
					continue
				}
				u, err := url.Parse(o)
				if o != "*" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "") {
					return fmt.Errorf("%q is not an origin such as https://shop.example", o)
				}
				c.CORSOrigins = append(c.CORSOrigins, strings.TrimSuffix(o, "/"))
			}
			return nil
		}},
	{envTracingEndpoint, "otlp-endpoint", "base `url` of an OTLP/HTTP collector to export traces to, e.g. http://127.0.0.1:4318 (empty: none)",
		str(func(c *Config) *string { return &c.TracingEndpoint })},
	{envDebugAddr, "debug-addr", "`address` of Go's profiler (/debug/pprof/), e.g. 127.0.0.1:6060 (default none); keep it off public interfaces",
		str(func(c *Config) *string { return &c.DebugAddr })},
}

func settingFor(env string) setting {
	for _, s := range settings {
		if s.env == env {
			return s
		}
	}
	panic("commerce: no setting " + env)
}

func configErr(env, format string, args ...any) *ConfigError {
	return &ConfigError{Env: env, Flag: settingFor(env).flag, Reason: fmt.Sprintf(format, args...)}
}

func parseRoles(v string) ([]Role, error) {
	var roles []Role
	for part := range strings.SplitSeq(v, ",") {
		r := Role(strings.ToLower(strings.TrimSpace(part)))
		if r == "" {
			continue
		}
		if !slices.Contains(AllRoles(), r) {
			return nil, fmt.Errorf("unknown role %q: use a comma list of api, projector, saga, notifier, relay", string(r))
		}
		if !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	if len(roles) == 0 {
		return nil, errors.New("names no role: use a comma list of api, projector, saga, notifier, relay")
	}
	return roles, nil
}

// LoadConfig builds the configuration of a subcommand: defaults, then each
// environment variable that getenv reports non-empty, then the flags in args,
// which override the environment (an empty flag value overrides it too). It
// registers one flag per setting on fs and returns the positional arguments
// left after the flags. Bad values are *ConfigError naming the variable and
// flag, all of them joined; flag.ErrHelp is returned as is after -h.
func LoadConfig(fs *flag.FlagSet, args []string, getenv func(string) string) (Config, []string, error) {
	fromFlags := map[string]string{}
	for _, s := range settings {
		fs.Func(s.flag, s.usage+" [$"+s.env+"]", func(v string) error {
			fromFlags[s.flag] = v // parsed below, like the environment
			return nil
		})
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, nil, err
	}
	cfg := DefaultConfig()
	var errs []error
	for _, s := range settings {
		v, ok := fromFlags[s.flag]
		if !ok {
			if v = getenv(s.env); v == "" {
				continue
			}
		}
		if err := s.set(&cfg, v); err != nil {
			errs = append(errs, &ConfigError{Env: s.env, Flag: s.flag, Reason: err.Error()})
		}
	}
	// Report parse and validation problems together, one per variable.
	if verr := cfg.Validate(); verr != nil {
		list := []error{verr}
		if joined, ok := verr.(interface{ Unwrap() []error }); ok {
			list = joined.Unwrap()
		}
		reported := func(env string) bool {
			return slices.ContainsFunc(errs, func(e error) bool {
				var ce *ConfigError
				return errors.As(e, &ce) && ce.Env == env
			})
		}
		for _, err := range list {
			if ce := (*ConfigError)(nil); !errors.As(err, &ce) || !reported(ce.Env) {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return Config{}, nil, errors.Join(errs...)
	}
	return cfg, fs.Args(), nil
}

// eventStoreKind is what COMMERCE_EVENTSTORE_URL selects.
type eventStoreKind = app.EventStoreKind

const (
	eventStoreSQLite   = app.EventStoreSQLite
	eventStorePostgres = app.EventStorePostgres
	eventStoreKurrent  = app.EventStoreKurrent
)

// eventStoreKind reads the scheme of EventStoreURL; Validate has checked it.
func (c Config) eventStoreKind() eventStoreKind { return c.app().EventStoreKind() }

var (
	postgresSchemes = []string{"postgres", "postgresql"}
	kurrentSchemes  = []string{"esdb", "esdb+discover", "kurrentdb", "kurrentdb+discover"}
)

// Validate checks every field, including those no code uses yet, so that a
// bad value is refused at start rather than found later. It returns every
// problem at once, each a *ConfigError naming its variable and flag, joined
// with errors.Join; messages never contain a secret.
func (c Config) Validate() error {
	var errs []error
	add := func(err *ConfigError) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(validateAddr(envHTTPAddr, c.HTTPAddr))
	if c.DebugAddr != "" {
		add(validateAddr(envDebugAddr, c.DebugAddr))
	}
	if strings.TrimSpace(c.DataDir) == "" {
		add(configErr(envDataDir, "is empty: give a directory for the embedded stores"))
	}
	add(validateURL(envEventStoreURL, c.EventStoreURL, append(slices.Clone(postgresSchemes), kurrentSchemes...), false))
	if ns := c.EventStoreNamespace; ns != "" {
		switch {
		case c.eventStoreKind() != eventStoreKurrent:
			add(configErr(envEventStoreNamespace, "applies only to a KurrentDB/EventStoreDB event store (esdb:// or kurrentdb:// in %s)", envEventStoreURL))
		case !esdb.ValidNamespace(ns):
			add(configErr(envEventStoreNamespace, "%q must be 1 to 64 letters, digits, '_' or '-'", ns))
		}
	}
	add(validateURL(envReadModelURL, c.ReadModelURL, postgresSchemes, false))
	add(validateURL(envRedisURL, c.RedisURL, []string{"redis", "rediss", "unix"}, false))
	add(validateURL(envAMQPURL, c.AMQPURL, []string{"amqp", "amqps"}, true))
	add(validateURL(envSMTPURL, c.SMTPURL, []string{"smtp", "smtps"}, true))
	add(validateURL(envPublicURL, c.PublicURL, []string{"http", "https"}, true))
	add(validateURL(envTracingEndpoint, c.TracingEndpoint, []string{"http", "https"}, true))
	if a, err := mail.ParseAddress(c.MailFrom); c.MailFrom != "" && (err != nil || a.Address != c.MailFrom) {
		add(configErr(envMailFrom, "%q is not a plain email address", c.MailFrom))
	}
	add(validateURL(envStripeAPIBase, c.StripeAPIBase, []string{"http", "https"}, true))

	if k := string(c.StripeSecretKey); k != "" && !hasAnyPrefix(k, "sk_test_", "sk_live_", "rk_test_", "rk_live_") {
		add(configErr(envStripeSecretKey, "is not a Stripe secret key (sk_test_..., sk_live_..., rk_...)"))
	}
	if w := string(c.StripeWebhookSecret); w != "" && !strings.HasPrefix(w, "whsec_") {
		add(configErr(envStripeWebhookSecret, "is not a Stripe webhook signing secret (whsec_...)"))
	}
	if c.StripeSecretKey != "" && c.StripeWebhookSecret == "" {
		add(configErr(envStripeWebhookSecret, "is required when %s is set: without it no webhook can be verified and no payment completes", envStripeSecretKey))
	}
	if c.StripeSecretKey == "" && c.StripeAPIBase != "" {
		add(configErr(envStripeAPIBase, "is set but %s is empty: the offline payment provider has no API base", envStripeSecretKey))
	}

	if n := len(c.JWTSecret); n > 0 && n < MinJWTSecretLength {
		add(configErr(envJWTSecret, "is %d bytes, at least %d are needed", n, MinJWTSecretLength))
	}
	switch {
	case c.AdminEmail != "" && c.AdminPassword == "":
		add(configErr(envAdminPassword, "is empty but %s is set: both or neither", envAdminEmail))
	case c.AdminEmail == "" && c.AdminPassword != "":
		add(configErr(envAdminEmail, "is empty but %s is set: both or neither", envAdminPassword))
	}
	if c.AdminEmail != "" {
		if a, err := mail.ParseAddress(c.AdminEmail); err != nil || a.Address != c.AdminEmail {
			add(configErr(envAdminEmail, "%q is not a plain email address", c.AdminEmail))
		}
	}
	if n := len([]rune(string(c.AdminPassword))); n > 0 && n < MinAdminPasswordLength {
		add(configErr(envAdminPassword, "is %d characters, at least %d are needed", n, MinAdminPasswordLength))
	}

	if len(c.Roles) == 0 {
		add(configErr(envRoles, "names no role: use a comma list of api, projector, saga, notifier, relay"))
	}
	for _, r := range c.Roles {
		if !slices.Contains(AllRoles(), r) {
			add(configErr(envRoles, "unknown role %q", string(r)))
		}
	}
	if c.SplitRoles() {
		// The roles of other processes share the work through these.
		if c.eventStoreKind() == eventStoreSQLite {
			add(configErr(envRoles, "runs only some roles: the others run in other processes, which share the events through %s (PostgreSQL or KurrentDB)", envEventStoreURL))
		}
		for _, need := range []struct{ env, val string }{{envReadModelURL, c.ReadModelURL}, {envRedisURL, c.RedisURL}, {envAMQPURL, c.AMQPURL}} {
			if need.val == "" {
				add(configErr(envRoles, "runs only some roles: the other processes share read models, carts and messages, so %s must be set", need.env))
			}
		}
		if c.JWTSecret == "" {
			add(configErr(envRoles, "runs only some roles: every process must sign and check tokens (and seal verification links) with one %s", envJWTSecret))
		}
	}
	if c.LogLevel < slog.LevelDebug || c.LogLevel > slog.LevelError {
		add(configErr(envLogLevel, "%s is outside debug..error", c.LogLevel))
	}
	if c.CheckoutExpiry < time.Second {
		add(configErr(envCheckoutExpiry, "must be at least 1s, got %s", c.CheckoutExpiry))
	}
	if c.ShutdownTimeout <= 0 {
		add(configErr(envShutdownTimeout, "must be positive, got %s", c.ShutdownTimeout))
	}
	return errors.Join(errs...)
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func validateAddr(env, addr string) *ConfigError {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return configErr(env, "%q is not a host:port address such as :8080 or 127.0.0.1:8080", addr)
	}
	if strings.ContainsAny(host, " /") {
		return configErr(env, "%q has an invalid host", addr)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || port == "" || n > 65535 {
		return configErr(env, "%q needs a numeric port 0-65535", addr)
	}
	return nil
}

// validateURL checks an optional URL: empty is fine; otherwise it must parse,
// have one of schemes and, if needHost, a host. Messages show the URL with
// its password redacted, or nothing of it when it does not parse.
func validateURL(env, raw string, schemes []string, needHost bool) *ConfigError {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL, password included
		}
		return configErr(env, "is not a valid URL: %v", err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme == "" {
		// Not a URL at all (a key=value DSN, a bare host...): it may hold a
		// password anywhere, so none of it is shown.
		return configErr(env, "is not a URL: want %s://...", strings.Join(schemes, ":// or "))
	}
	if !slices.Contains(schemes, scheme) {
		return configErr(env, "%q has scheme %q; want %s://", redactURL(raw), u.Scheme, strings.Join(schemes, ":// or "))
	}
	if needHost && u.Hostname() == "" {
		return configErr(env, "%q has no host", redactURL(raw))
	}
	if slices.Contains(kurrentSchemes, scheme) && u.Host == "" {
		return configErr(env, "%q has no host", redactURL(raw))
	}
	return nil
}

// redactURL renders a URL for logs without its passwords.
func redactURL(raw string) string { return app.RedactURL(raw) }

// LogValue renders the configuration for the start-up log: URLs with their
// passwords redacted, secrets only as set or not.
func (c Config) LogValue() slog.Value {
	roles := make([]string, len(c.Roles))
	for i, r := range c.Roles {
		roles[i] = string(r)
	}
	return slog.GroupValue(
		slog.String("http_addr", c.HTTPAddr),
		slog.String("data_dir", c.DataDir),
		slog.String("eventstore_url", redactURL(c.EventStoreURL)),
		slog.String("eventstore_namespace", c.EventStoreNamespace),
		slog.String("readmodel_url", redactURL(c.ReadModelURL)),
		slog.String("redis_url", redactURL(c.RedisURL)),
		slog.String("amqp_url", redactURL(c.AMQPURL)),
		slog.Bool("stripe_secret_key_set", c.StripeSecretKey != ""),
		slog.Bool("stripe_webhook_secret_set", c.StripeWebhookSecret != ""),
		slog.String("stripe_api_base", redactURL(c.StripeAPIBase)),
		slog.String("smtp_url", redactURL(c.SMTPURL)),
		slog.String("mail_from", c.MailFrom),
		slog.String("public_url", c.PublicURL),
		slog.Bool("jwt_secret_set", c.JWTSecret != ""),
		slog.String("admin_email", c.AdminEmail),
		slog.Bool("admin_password_set", c.AdminPassword != ""),
		slog.String("roles", strings.Join(roles, ",")),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("shutdown_timeout", c.ShutdownTimeout.String()),
		slog.String("checkout_expiry", c.CheckoutExpiry.String()),
		slog.String("tracing_endpoint", redactURL(c.TracingEndpoint)),
	)
}

// GoString renders the configuration like String, so that %#v never shows
// a secret either.
func (c Config) GoString() string { return "commerce.Config{" + c.String() + "}" }

// String renders the configuration like LogValue, so printing a Config with
// %v never shows a secret.
func (c Config) String() string {
	var b strings.Builder
	for i, a := range c.LogValue().Group() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(a.String())
	}
	return b.String()
}

// app is the configuration as the assembly takes it: the same values,
// secrets as plain strings, without what only this command uses.
func (c Config) app() app.Config {
	return app.Config{
		HTTPAddr: c.HTTPAddr, DataDir: c.DataDir,
		EventStoreURL: c.EventStoreURL, EventStoreNamespace: c.EventStoreNamespace,
		ReadModelURL: c.ReadModelURL, AnalystPassword: string(c.AnalystPassword),
		RedisURL: c.RedisURL, AMQPURL: c.AMQPURL,
		StripeSecretKey: string(c.StripeSecretKey), StripeWebhookSecret: string(c.StripeWebhookSecret), StripeAPIBase: c.StripeAPIBase,
		SMTPURL: c.SMTPURL, MailFrom: c.MailFrom, PublicURL: c.PublicURL,
		JWTSecret: string(c.JWTSecret), AdminEmail: c.AdminEmail, AdminPassword: string(c.AdminPassword),
		Roles: c.Roles, ShutdownTimeout: c.ShutdownTimeout, CheckoutExpiry: c.CheckoutExpiry,
		CORSOrigins: c.CORSOrigins, TracingEndpoint: c.TracingEndpoint, DebugAddr: c.DebugAddr,
	}
}

// fieldEnv maps each app.Config field to its environment variable, so that
// the assembly's errors name what the operator sets.
var fieldEnv = map[string]string{
	"HTTPAddr": envHTTPAddr, "DataDir": envDataDir, "EventStoreURL": envEventStoreURL,
	"EventStoreNamespace": envEventStoreNamespace, "ReadModelURL": envReadModelURL, "AnalystPassword": envAnalystPassword,
	"RedisURL": envRedisURL, "AMQPURL": envAMQPURL, "StripeSecretKey": envStripeSecretKey,
	"StripeWebhookSecret": envStripeWebhookSecret, "StripeAPIBase": envStripeAPIBase, "SMTPURL": envSMTPURL,
	"MailFrom": envMailFrom, "PublicURL": envPublicURL, "JWTSecret": envJWTSecret, "AdminEmail": envAdminEmail,
	"AdminPassword": envAdminPassword, "Roles": envRoles, "ShutdownTimeout": envShutdownTimeout,
	"CheckoutExpiry": envCheckoutExpiry, "CORSOrigins": envCORSOrigins, "TracingEndpoint": envTracingEndpoint,
	"DebugAddr": envDebugAddr,
}

// envName names an app.Config field by its environment variable.
func envName(field string) string {
	if env, ok := fieldEnv[field]; ok {
		return env
	}
	return field
}
