package httpapi_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/commerce-engine/commerce/httpapi"
)

func TestReadyzReportsDownDependencies(t *testing.T) {
	t.Parallel()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/readyz", httpapi.Readyz(slog.New(slog.DiscardHandler), 50*time.Millisecond, map[string]func(context.Context) error{
		"eventstore": func(context.Context) error { return nil },
		"redis":      func(context.Context) error { return errors.New("dial tcp secret-host:6379: connection refused") },
		"rabbitmq":   func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
	}))
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	want := `{"checks":{"eventstore":{"status":"up"},"rabbitmq":{"status":"down","error":"timeout"},"redis":{"status":"down","error":"unreachable"}},"status":"not_ready"}`
	if w.Code != http.StatusServiceUnavailable || w.Body.String() != want {
		t.Fatalf("readyz: %d %s\nwant 503 %s", w.Code, w.Body.String(), want)
	}
}
