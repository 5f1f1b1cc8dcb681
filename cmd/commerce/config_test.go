package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func load(t *testing.T, vars map[string]string, args ...string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg, _, err := LoadConfig(fs, args, env(vars))
	return cfg, err
}

func TestDefaultConfigIsValid(t *testing.T) {
	t.Parallel()
	cfg, err := load(t, nil)
	if err != nil {
		t.Fatalf("no configuration refused: %v", err)
	}
	if cfg.HTTPAddr != ":8080" || cfg.DataDir != "./data" || cfg.EventStoreURL != "" ||
		cfg.ShutdownTimeout != 15*time.Second || cfg.LogLevel != slog.LevelInfo ||
		!slices.Equal(cfg.Roles, AllRoles()) {
		t.Fatalf("defaults: %+v", cfg)
	}
	if cfg.eventStoreKind() != eventStoreSQLite {
		t.Fatalf("default event store kind %v, want sqlite", cfg.eventStoreKind())
	}
}

func TestLoadConfigParsesEveryVariable(t *testing.T) {
	t.Parallel()
	cfg, err := load(t, map[string]string{
		envHTTPAddr:            "127.0.0.1:9090",
		envDataDir:             "/var/lib/commerce",
		envEventStoreURL:       "postgres://commerce:pw@db:5432/commerce?sslmode=disable",
		envReadModelURL:        "postgresql://db/commerce",
		envRedisURL:            "redis://:pw@cache:6379/0",
		envAMQPURL:             "amqp://guest:guest@mq:5672/",
		envStripeSecretKey:     "sk_test_123",
		envStripeWebhookSecret: "whsec_abc",
		envStripeAPIBase:       "http://stripe-mock:12111",
		envSMTPURL:             "smtp://mailpit:1025",
		envJWTSecret:           strings.Repeat("k", 32),
		envAdminEmail:          "admin@example.com",
		envAdminPassword:       "correct horse battery",
		envRoles:               " api, Saga ,api",
		envLogLevel:            "debug",
		envShutdownTimeout:     "30s",
		envCheckoutExpiry:      "2m",
		envMailFrom:            "shop@example.com",
		envPublicURL:           "https://shop.example",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		HTTPAddr:            "127.0.0.1:9090",
		DataDir:             "/var/lib/commerce",
		EventStoreURL:       "postgres://commerce:pw@db:5432/commerce?sslmode=disable",
		ReadModelURL:        "postgresql://db/commerce",
		RedisURL:            "redis://:pw@cache:6379/0",
		AMQPURL:             "amqp://guest:guest@mq:5672/",
		StripeSecretKey:     "sk_test_123",
		StripeWebhookSecret: "whsec_abc",
		StripeAPIBase:       "http://stripe-mock:12111",
		SMTPURL:             "smtp://mailpit:1025",
		JWTSecret:           Secret(strings.Repeat("k", 32)),
		AdminEmail:          "admin@example.com",
		AdminPassword:       "correct horse battery",
		Roles:               []Role{RoleAPI, RoleSaga},
		LogLevel:            slog.LevelDebug,
		ShutdownTimeout:     30 * time.Second,
		CheckoutExpiry:      2 * time.Minute,
		MailFrom:            "shop@example.com",
		PublicURL:           "https://shop.example",
	}
	// Compare with the secrets revealed: Secret hides them from fmt.
	type revealed struct {
		Config                      Config
		Stripe, Webhook, JWT, Admin string
	}
	reveal := func(c Config) revealed {
		r := revealed{c, string(c.StripeSecretKey), string(c.StripeWebhookSecret), string(c.JWTSecret), string(c.AdminPassword)}
		r.Config.StripeSecretKey, r.Config.StripeWebhookSecret, r.Config.JWTSecret, r.Config.AdminPassword = "", "", "", ""
		return r
	}
	if !reflect.DeepEqual(reveal(cfg), reveal(want)) {
		t.Fatalf("got  %+v\nwant %+v", reveal(cfg), reveal(want))
	}
	if cfg.eventStoreKind() != eventStorePostgres {
		t.Fatalf("kind %v, want postgres", cfg.eventStoreKind())
	}
	if !cfg.HasRole(RoleSaga) || cfg.HasRole(RoleRelay) {
		t.Fatalf("roles %v", cfg.Roles)
	}
}

func TestFlagsOverrideEnvironment(t *testing.T) {
	t.Parallel()
	cfg, err := load(t, map[string]string{
		envHTTPAddr:        ":9000",
		envDataDir:         "/from/env",
		envRoles:           "api",
		envShutdownTimeout: "not-a-duration", // overridden by the flag: harmless
		// Split roles need the shared services.
		envEventStoreURL: "postgres://db/x", envReadModelURL: "postgres://db/x", envRedisURL: "redis://cache:6379/0",
		envAMQPURL: "amqp://mq:5672/", envJWTSecret: strings.Repeat("j", 32),
	},
		"-http-addr", "127.0.0.1:0",
		"-roles=projector,relay",
		"-shutdown-timeout", "2s",
		"-log-level", "warn",
	)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "127.0.0.1:0" {
		t.Errorf("http addr %q: the flag should win", cfg.HTTPAddr)
	}
	if cfg.DataDir != "/from/env" {
		t.Errorf("data dir %q: the environment should apply where no flag is given", cfg.DataDir)
	}
	if !slices.Equal(cfg.Roles, []Role{RoleProjector, RoleRelay}) {
		t.Errorf("roles %v", cfg.Roles)
	}
	if cfg.ShutdownTimeout != 2*time.Second || cfg.LogLevel != slog.LevelWarn {
		t.Errorf("timeout %s, level %s", cfg.ShutdownTimeout, cfg.LogLevel)
	}
}

func TestFlagValueErrorNamesVariableAndFlag(t *testing.T) {
	t.Parallel()
	_, err := load(t, nil, "-shutdown-timeout", "soon")
	if err == nil || !strings.Contains(err.Error(), envShutdownTimeout) || !strings.Contains(err.Error(), "-shutdown-timeout") {
		t.Fatalf("error %v should name %s and its flag", err, envShutdownTimeout)
	}
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Env != envShutdownTimeout {
		t.Fatalf("error %v is not a *ConfigError for %s", err, envShutdownTimeout)
	}
}

func TestBadValuesAreRefusedNamingTheVariable(t *testing.T) {
	t.Parallel()
	const pgPassword = "s3cr3t-pg-password"
	tests := []struct {
		name    string
		vars    map[string]string
		wantEnv string
		// secrets that must not appear in the error message
		hidden []string
	}{
		{"addr without port", map[string]string{envHTTPAddr: "localhost"}, envHTTPAddr, nil},
		{"addr with bad port", map[string]string{envHTTPAddr: ":http"}, envHTTPAddr, nil},
		{"addr port too big", map[string]string{envHTTPAddr: ":70000"}, envHTTPAddr, nil},
		{"data dir blank", map[string]string{envDataDir: "  "}, envDataDir, nil},
		{"eventstore unparseable", map[string]string{envEventStoreURL: "postgres://u:" + pgPassword + "@db:port/x"}, envEventStoreURL, []string{pgPassword}},
		{"eventstore wrong scheme", map[string]string{envEventStoreURL: "mysql://u:" + pgPassword + "@db/x"}, envEventStoreURL, []string{pgPassword}},
		{"eventstore key=value dsn", map[string]string{envEventStoreURL: "host=db password=" + pgPassword}, envEventStoreURL, []string{pgPassword}},
		{"eventstore esdb without host", map[string]string{envEventStoreURL: "esdb://"}, envEventStoreURL, nil},
		{"debug addr without port", map[string]string{envDebugAddr: "localhost"}, envDebugAddr, nil},
		{"namespace without kurrentdb", map[string]string{envEventStoreNamespace: "shop1"}, envEventStoreNamespace, nil},
		{"namespace of the system's", map[string]string{envEventStoreURL: "kurrentdb://db:2113", envEventStoreNamespace: "$shop"}, envEventStoreNamespace, nil},
		{"namespace with a space", map[string]string{envEventStoreURL: "kurrentdb://db:2113", envEventStoreNamespace: "shop 1"}, envEventStoreNamespace, nil},
		{"namespace with a colon", map[string]string{envEventStoreURL: "kurrentdb://db:2113", envEventStoreNamespace: "shop:1"}, envEventStoreNamespace, nil},
		{"readmodel not postgres", map[string]string{envReadModelURL: "redis://cache"}, envReadModelURL, nil},
		{"redis wrong scheme", map[string]string{envRedisURL: "http://cache:6379"}, envRedisURL, nil},
		{"amqp wrong scheme", map[string]string{envAMQPURL: "rabbit://mq"}, envAMQPURL, nil},
		{"amqp without host", map[string]string{envAMQPURL: "amqp:///vhost"}, envAMQPURL, nil},
		{"smtp wrong scheme", map[string]string{envSMTPURL: "mailto:admin@example.com"}, envSMTPURL, nil},
		{"stripe key not a key", map[string]string{envStripeSecretKey: "pk_test_publishable", envStripeWebhookSecret: "whsec_x"}, envStripeSecretKey, []string{"pk_test_publishable"}},
		{"stripe webhook secret not whsec", map[string]string{envStripeSecretKey: "sk_test_1", envStripeWebhookSecret: "hunter2"}, envStripeWebhookSecret, []string{"hunter2"}},
		{"stripe key without webhook secret", map[string]string{envStripeSecretKey: "sk_test_1"}, envStripeWebhookSecret, []string{"sk_test_1"}},
		{"stripe api base without key", map[string]string{envStripeAPIBase: "http://stripe-mock:12111"}, envStripeAPIBase, nil},
		{"stripe api base not http", map[string]string{envStripeSecretKey: "sk_test_1", envStripeWebhookSecret: "whsec_x", envStripeAPIBase: "ftp://x"}, envStripeAPIBase, nil},
		{"jwt secret too short", map[string]string{envJWTSecret: "short-secret"}, envJWTSecret, []string{"short-secret"}},
		{"admin email without password", map[string]string{envAdminEmail: "admin@example.com"}, envAdminPassword, nil},
		{"admin password without email", map[string]string{envAdminPassword: "long enough password"}, envAdminEmail, []string{"long enough password"}},
		{"admin email invalid", map[string]string{envAdminEmail: "not an email", envAdminPassword: "long enough password"}, envAdminEmail, []string{"long enough password"}},
		{"admin email with name", map[string]string{envAdminEmail: "Admin <admin@example.com>", envAdminPassword: "long enough password"}, envAdminEmail, nil},
		{"admin password too short", map[string]string{envAdminEmail: "admin@example.com", envAdminPassword: "hunter2"}, envAdminPassword, []string{"hunter2"}},
		{"unknown role", map[string]string{envRoles: "api,billing"}, envRoles, nil},
		{"no role", map[string]string{envRoles: " , "}, envRoles, nil},
		{"some roles on the embedded default", map[string]string{envRoles: "api"}, envRoles, nil},
		{"some roles without RabbitMQ", map[string]string{envRoles: "saga", envEventStoreURL: "postgres://db/x", envReadModelURL: "postgres://db/x",
			envRedisURL: "redis://cache:6379/0", envJWTSecret: strings.Repeat("k", 32)}, envRoles, nil},
		{"bad mail from", map[string]string{envMailFrom: "Shop <shop@example.com>"}, envMailFrom, nil},
		{"public url not http", map[string]string{envPublicURL: "ftp://shop.example"}, envPublicURL, nil},
		{"bad log level", map[string]string{envLogLevel: "loud"}, envLogLevel, nil},
		{"bad duration", map[string]string{envShutdownTimeout: "15"}, envShutdownTimeout, nil},
		{"zero duration", map[string]string{envShutdownTimeout: "0s"}, envShutdownTimeout, nil},
		{"negative duration", map[string]string{envShutdownTimeout: "-1s"}, envShutdownTimeout, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := load(t, tt.vars)
			if err == nil {
				t.Fatalf("%v accepted", tt.vars)
			}
			msg := err.Error()
			flagName := "-" + settingFor(tt.wantEnv).flag
			if !strings.Contains(msg, tt.wantEnv) || !strings.Contains(msg, flagName) {
				t.Fatalf("error %q does not name %s and %s", msg, tt.wantEnv, flagName)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Env != tt.wantEnv {
				t.Fatalf("error %q: first *ConfigError is not for %s", msg, tt.wantEnv)
			}
			for _, h := range tt.hidden {
				if strings.Contains(msg, h) {
					t.Fatalf("error %q shows the secret %q", msg, h)
				}
			}
		})
	}
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.HTTPAddr = "nope"
	cfg.Roles = []Role{"billing"}
	cfg.ShutdownTimeout = 0
	err := cfg.Validate()
	for _, env := range []string{envHTTPAddr, envRoles, envShutdownTimeout} {
		if err == nil || !strings.Contains(err.Error(), env) {
			t.Errorf("error %v does not mention %s", err, env)
		}
	}
}

func TestEventStoreSchemesAccepted(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]eventStoreKind{
		"":                                     eventStoreSQLite,
		"postgres://127.0.0.1:5432/commerce":   eventStorePostgres,
		"postgresql://u:p@db/commerce":         eventStorePostgres,
		"postgres:///commerce?host=/run/pg":    eventStorePostgres,
		"esdb://localhost:2113?tls=false":      eventStoreKurrent,
		"esdb+discover://cluster:2113":         eventStoreKurrent,
		"kurrentdb://localhost:2113?tls=false": eventStoreKurrent,
	} {
		cfg := DefaultConfig()
		cfg.EventStoreURL = raw
		if err := cfg.Validate(); err != nil {
			t.Errorf("%q refused: %v", raw, err)
			continue
		}
		if got := cfg.eventStoreKind(); got != want {
			t.Errorf("%q: kind %v, want %v", raw, got, want)
		}
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.EventStoreURL = "postgres://commerce:pg-pass-1@db/commerce?password=pg-pass-2"
	cfg.RedisURL = "redis://:redis-pass@cache:6379"
	cfg.AMQPURL = "amqp://guest:amqp-pass@mq:5672/"
	cfg.SMTPURL = "smtp://user:smtp-pass@mail:25"
	cfg.StripeSecretKey = "sk_test_stripe-key"
	cfg.StripeWebhookSecret = "whsec_webhook"
	cfg.JWTSecret = Secret(strings.Repeat("j", 40))
	cfg.AdminEmail = "admin@example.com"
	cfg.AdminPassword = "admin-password-long"

	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "config", cfg, "key", cfg.StripeSecretKey)
	printed := fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg.JWTSecret)
	for _, out := range []string{logged.String(), printed} {
		for _, s := range []string{"pg-pass-1", "pg-pass-2", "redis-pass", "amqp-pass", "smtp-pass", "stripe-key", "whsec_webhook", "jjjjjjjj", "admin-password-long"} {
			if strings.Contains(out, s) {
				t.Errorf("%q printed in %s", s, out)
			}
		}
	}
	if !strings.Contains(logged.String(), "db/commerce") || !strings.Contains(logged.String(), "admin@example.com") {
		t.Errorf("redacted config lost its non-secret parts: %s", logged.String())
	}
}

func TestParseAndValidationErrorsReportedTogether(t *testing.T) {
	t.Parallel()
	_, err := load(t, map[string]string{
		envShutdownTimeout: "soon",
		envRoles:           "billing",
		envJWTSecret:       "short",
	})
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	for _, env := range []string{envShutdownTimeout, envRoles, envJWTSecret} {
		if strings.Count(msg, env+" (flag") != 1 {
			t.Errorf("%s should be reported exactly once in:\n%s", env, msg)
		}
	}
}

func TestCORSOrigins(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == envCORSOrigins {
				return v
			}
			return ""
		}
	}
	for _, bad := range []string{"shop.example", "ftp://shop.example", "https://shop.example/path", "https://"} {
		_, _, err := LoadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, env(bad))
		if err == nil || !strings.Contains(err.Error(), envCORSOrigins) {
			t.Errorf("%q: %v, want a refusal naming %s", bad, err, envCORSOrigins)
		}
	}
	cfg, _, err := LoadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, env(" https://shop.example/ , http://localhost:5173"))
	if err != nil || len(cfg.CORSOrigins) != 2 || cfg.CORSOrigins[0] != "https://shop.example" {
		t.Fatalf("origins = %v, %v", cfg.CORSOrigins, err)
	}
}
