package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"

	"github.com/commerce-engine/commerce/auth"
	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/customer"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/httpapi"
	"github.com/commerce-engine/commerce/httpedge"
	"github.com/commerce-engine/commerce/openapi"
	"github.com/commerce-engine/commerce/tracing"
)

// stateCacheSize bounds the aggregate states kept for the command path.
const stateCacheSize = 10000

// Login attempts allowed per account and per client address in a window.
const (
	loginLimit  = 10
	loginWindow = 15 * time.Minute
)

// writeSide is the wired write API: accounts, catalog admin and cart.
type writeSide struct {
	secret []byte
	api    *httpapi.API
	tokens *auth.Tokens
	idem   httpedge.IdempotencyStore
	// authn checks bearer tokens; byUser replays writes by Idempotency-Key
	// per user. Both guard every write route, also the checkout's.
	authn  gin.HandlerFunc
	byUser gin.HandlerFunc
	// sealer encrypts verification tokens into their events for the
	// notifier; its key derives from the signing secret.
	sealer   *auth.Sealer
	closeFns []func() error
}

// openWriteSide builds the command runner and the account services on store.
func (m *Main) openWriteSide(ctx context.Context, store eventstore.Store) (*writeSide, error) {
	secret := []byte(m.cfg.JWTSecret)
	if len(secret) == 0 {
		if err := os.MkdirAll(m.cfg.DataDir, 0o750); err != nil { //nolint:gosec // G703: the operator chooses the data directory
			return nil, fmt.Errorf("%s: %w", m.setting("DataDir"), err)
		}
		s, err := auth.LoadOrCreateSecret(filepath.Join(m.cfg.DataDir, JWTKeyFile))
		if err != nil {
			return nil, fmt.Errorf("jwt signing key (set %s or fix %s): %w", m.setting("JWTSecret"), m.setting("DataDir"), err)
		}
		secret = s
	}
	tokens, err := auth.NewTokens(auth.TokensConfig{Secret: secret})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.setting("JWTSecret"), err)
	}
	ws := &writeSide{tokens: tokens, secret: secret}
	var limiter auth.Limiter = auth.NewMemoryLimiter(loginLimit, loginWindow, time.Now)
	if m.cfg.RedisURL != "" {
		client, err := m.newRedisClient()
		if err != nil {
			return nil, err
		}
		ws.closeFns = append(ws.closeFns, client.Close)
		limiter = auth.NewRedisLimiter(client, m.redisPrefix+"ratelimit:login:", loginLimit, loginWindow)
	}
	sealer, err := auth.NewSealer(secret)
	if err != nil {
		return nil, err
	}
	ws.sealer = sealer
	runner := &commands.Runner{Store: store, Codec: commands.NewCodec(), Cache: commands.NewStateCache(stateCacheSize)}
	log, smtpSet, smtpSetting := m.log, m.cfg.SMTPURL != "", m.setting("SMTPURL")
	accounts := &commands.Accounts{
		Runner: runner, Tokens: tokens, Limiter: limiter, Now: time.Now, Seal: sealer.Seal,
		OnVerification: func(ctx context.Context, customerID, _ string, token string) {
			// Without SMTP the notifier's email goes to the log too; this
			// line names the customer for scripts that pick the link out.
			// With SMTP configured no token is ever logged.
			if smtpSet {
				return
			}
			log.InfoContext(ctx, "email verification link (emails go to the log without "+smtpSetting+")",
				"customer_id", customerID, "link", "/verify-email?token="+token)
		},
	}
	ws.api = &httpapi.API{Runner: runner, Accounts: accounts, Now: time.Now}
	ws.idem = httpedge.NewEventStoreIdempotency(store, httpedge.EventStoreIdempotencyConfig{})
	ws.authn = auth.Authenticate(tokens)
	ws.byUser = httpedge.Idempotency(httpedge.IdempotencyConfig{Store: ws.idem, Scope: func(c *gin.Context) string {
		claims, _ := auth.ClaimsFrom(c)
		return "user:" + claims.UserID
	}})
	if err := m.bootstrapAdmin(ctx, accounts); err != nil {
		return nil, err
	}
	return ws, nil
}

// mount registers the write API and /openapi.json on r.
func (ws *writeSide) mount(r gin.IRouter) {
	r.GET("/openapi.json", gin.WrapH(openapi.Handler()))
	// The auth answers carry access and refresh tokens: they are never
	// stored for replay (the event store would keep live credentials).
	ws.api.MountAuth(r, func(c *gin.Context) { c.Next() })
	ws.api.Mount(r, ws.authn, ws.byUser)
}

func (ws *writeSide) close() error {
	var errs []error
	for _, fn := range ws.closeFns {
		errs = append(errs, fn())
	}
	return errors.Join(errs...)
}

// bootstrapAdmin creates the first admin from AdminEmail and AdminPassword
// once; an existing account is left as it is.
func (m *Main) bootstrapAdmin(ctx context.Context, accounts *commands.Accounts) error {
	if m.cfg.AdminEmail == "" {
		return nil
	}
	_, err := accounts.Register(ctx, m.cfg.AdminEmail, m.cfg.AdminPassword, "Administrator", customer.RoleAdmin,
		commands.Metadata{CommandID: "bootstrap-admin-" + uuid.NewString(), Actor: "system"})
	switch {
	case errors.Is(err, commands.ErrEmailTaken):
		m.log.Info("first admin already exists", "email", m.cfg.AdminEmail)
		return nil
	case err != nil:
		return fmt.Errorf("create the first admin (%s): %w", m.setting("AdminEmail"), err)
	}
	m.log.Info("first admin created", "email", m.cfg.AdminEmail)
	return nil
}

// newRedisClient connects to RedisURL; the caller closes it.
func (m *Main) newRedisClient() (*redis.Client, error) {
	opts, err := redis.ParseURL(m.cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.setting("RedisURL"), err)
	}
	client := redis.NewClient(opts)
	// A client span per command run under a span (nothing otherwise).
	if err := redisotel.InstrumentTracing(client, redisotel.WithTracerProvider(tracing.ChildSpans()),
		// Commands carry keys and values (emails, carts): names only.
		redisotel.WithDBStatement(false)); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("%s: tracing: %w", m.setting("RedisURL"), err)
	}
	return client, nil
}
