package app

import (
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Config is what the assembly is given: plain values, already validated by
// the command that read them (cmd/commerce maps each field to its
// environment variable and flag). Empty optional fields mean "use the
// embedded default". Errors that come from a setting name it by its field
// (e.g. "HTTPAddr"), or by what WithSettingNames maps the field to.
type Config struct {
	// HTTPAddr is the listen address of the HTTP server.
	HTTPAddr string
	// DataDir holds the embedded stores' files.
	DataDir string
	// EventStoreURL selects the event store: empty for embedded SQLite,
	// postgres:// for PostgreSQL, esdb:// or kurrentdb:// for KurrentDB.
	EventStoreURL string
	// EventStoreNamespace prefixes every stream name in KurrentDB.
	EventStoreNamespace string
	// ReadModelURL is the PostgreSQL database of the read models; empty
	// keeps them in memory.
	ReadModelURL string
	// AnalystPassword is set on the read-only analysts' role; empty leaves
	// it unchanged.
	AnalystPassword string
	// RedisURL is the cache and cart store; empty keeps them in memory.
	RedisURL string
	// AMQPURL is the RabbitMQ broker; empty uses an in-process channel.
	AMQPURL string
	// StripeSecretKey switches payments to Stripe; empty uses the offline
	// provider.
	StripeSecretKey string
	// StripeWebhookSecret verifies Stripe's webhook signatures.
	StripeWebhookSecret string
	// StripeAPIBase points the Stripe client elsewhere (stripe-mock).
	StripeAPIBase string
	// SMTPURL is the mail server; empty writes emails to the log.
	SMTPURL string
	// MailFrom is the sender address of every email.
	MailFrom string
	// PublicURL prefixes the links in emails.
	PublicURL string
	// JWTSecret signs access tokens; empty keeps a generated key in DataDir.
	JWTSecret string
	// AdminEmail is the first admin's login, created at start if missing.
	AdminEmail string
	// AdminPassword is the first admin's password.
	AdminPassword string
	// Roles are the parts of the engine this process runs.
	Roles []Role
	// ShutdownTimeout bounds how long in-flight requests may take to finish
	// once a stop is asked for.
	ShutdownTimeout time.Duration
	// CheckoutExpiry is how long a checkout holds its stock waiting for the
	// payment.
	CheckoutExpiry time.Duration
	// CORSOrigins are the browser origins allowed to call the API.
	CORSOrigins []string
	// TracingEndpoint is the base URL of an OTLP/HTTP collector that spans
	// are exported to; empty exports none.
	TracingEndpoint string
	// DebugAddr serves Go's profiler on a listener of its own; empty serves
	// none.
	DebugAddr string
}

// Role is one part of the engine a process can run; running several
// processes with different roles is how the engine scales out.
type Role string

// The roles a process can run; by default it runs all of them.
const (
	// RoleAPI serves the shop's HTTP API (writes and reads).
	RoleAPI Role = "api"
	// RoleProjector turns events into read models.
	RoleProjector Role = "projector"
	// RoleSaga drives checkouts: reservations, payments, orders.
	RoleSaga Role = "saga"
	// RoleNotifier sends emails and pushes to shoppers.
	RoleNotifier Role = "notifier"
	// RoleRelay publishes recorded events to the message bus.
	RoleRelay Role = "relay"
)

// AllRoles lists every role, in the order they are documented.
func AllRoles() []Role {
	return []Role{RoleAPI, RoleProjector, RoleSaga, RoleNotifier, RoleRelay}
}

// HasRole reports whether the process runs role r.
func (c Config) HasRole(r Role) bool { return slices.Contains(c.Roles, r) }

// EventStoreKind is the adapter EventStoreURL selects.
type EventStoreKind int

// The event store adapters.
const (
	// EventStoreSQLite is the embedded default.
	EventStoreSQLite EventStoreKind = iota
	// EventStorePostgres is PostgreSQL.
	EventStorePostgres
	// EventStoreKurrent is KurrentDB / EventStoreDB.
	EventStoreKurrent
)

// EventStoreKind reads the scheme of EventStoreURL; it assumes a URL the
// command has validated.
func (c Config) EventStoreKind() EventStoreKind {
	if c.EventStoreURL == "" {
		return EventStoreSQLite
	}
	u, err := url.Parse(c.EventStoreURL)
	if err != nil {
		return EventStoreSQLite
	}
	switch strings.ToLower(u.Scheme) {
	case "postgres", "postgresql":
		return EventStorePostgres
	default:
		return EventStoreKurrent
	}
}

// SQLiteFileName is the embedded event store's file inside DataDir.
const SQLiteFileName = "events.db"

// JWTKeyFile keeps the embedded default's signing key in DataDir across
// restarts.
const JWTKeyFile = "jwt.key"

// eventStoreName describes the configured event store for logs, without
// secrets.
func (c Config) eventStoreName() string {
	switch c.EventStoreKind() {
	case EventStorePostgres:
		return "postgres " + RedactURL(c.EventStoreURL)
	case EventStoreKurrent:
		return "kurrentdb " + RedactURL(c.EventStoreURL)
	default:
		return "sqlite " + filepath.Join(c.DataDir, SQLiteFileName)
	}
}

// RedactURL renders a URL for logs and errors: the password in its user
// info and any password-like query parameter are replaced. A URL that does
// not parse is not shown at all.
func RedactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparseable URL]"
	}
	if q := u.Query(); len(q) > 0 {
		changed := false
		for k := range q {
			switch strings.ToLower(k) {
			case "password", "pass", "passwd", "secret", "token", "sslpassword":
				q.Set(k, "xxxxx")
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	return u.Redacted()
}
