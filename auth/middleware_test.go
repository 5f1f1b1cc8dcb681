package auth_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/commerce-engine/commerce/auth"
	"github.com/commerce-engine/commerce/domain/customer"
)

func init() { gin.SetMode(gin.TestMode) }

type problemBody struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

func newRouter(tokens *auth.Tokens) *gin.Engine {
	r := gin.New()
	whoami := func(c *gin.Context) {
		claims, ok := auth.ClaimsFrom(c)
		if !ok {
			c.String(http.StatusInternalServerError, "no claims")
			return
		}
		c.JSON(http.StatusOK, gin.H{"user_id": claims.UserID, "role": claims.Role})
	}
	api := r.Group("/api", auth.Authenticate(tokens))
	api.GET("/me", whoami)
	api.GET("/admin", auth.RequireRole(customer.RoleAdmin), whoami)
	api.GET("/analytics", auth.RequireRole(customer.RoleAdmin, customer.RoleAnalyst), whoami)
	r.GET("/unauthenticated-admin", auth.RequireRole(customer.RoleAdmin), whoami) // misconfigured route
	return r
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	tokens := mustTokens(t, clock, auth.TokensConfig{TTL: time.Minute})
	router := newRouter(tokens)
	shopper := mustIssue(t, tokens, "u-shopper", customer.RoleShopper)
	admin := mustIssue(t, tokens, "u-admin", customer.RoleAdmin)
	analyst := mustIssue(t, tokens, "u-analyst", customer.RoleAnalyst)
	wrongKey := mustIssue(t, mustTokens(t, clock, auth.TokensConfig{Secret: []byte("another secret of at least 32 bytes!")}), "u-admin", customer.RoleAdmin)
	expiring := mustTokens(t, clock, auth.TokensConfig{TTL: time.Second})
	expired := mustIssue(t, expiring, "u-shopper", customer.RoleShopper)
	clock.Advance(2 * time.Second)
	parts := strings.Split(admin, ".")
	tampered := parts[0] + "." + parts[1] + "x." + parts[2]

	tests := []struct {
		name, path, authz string
		want              int
		wantUser          string
	}{
		{"shopper reads me", "/api/me", "Bearer " + shopper, 200, "u-shopper"},
		{"lower-case scheme", "/api/me", "bearer " + shopper, 200, "u-shopper"},
		{"admin on admin route", "/api/admin", "Bearer " + admin, 200, "u-admin"},
		{"analyst on analytics", "/api/analytics", "Bearer " + analyst, 200, "u-analyst"},
		{"admin on analytics", "/api/analytics", "Bearer " + admin, 200, "u-admin"},
		{"shopper on admin route", "/api/admin", "Bearer " + shopper, 403, ""},
		{"analyst on admin route", "/api/admin", "Bearer " + analyst, 403, ""},
		{"shopper on analytics", "/api/analytics", "Bearer " + shopper, 403, ""},
		{"no header", "/api/me", "", 401, ""},
		{"no header on admin route", "/api/admin", "", 401, ""},
		{"basic scheme", "/api/me", "Basic dXNlcjpwYXNz", 401, ""},
		{"scheme only", "/api/me", "Bearer", 401, ""},
		{"scheme and space", "/api/me", "Bearer ", 401, ""},
		{"token without scheme", "/api/me", shopper, 401, ""},
		{"two tokens", "/api/me", "Bearer " + shopper + " " + shopper, 401, ""},
		{"garbage token", "/api/me", "Bearer garbage", 401, ""},
		{"expired token", "/api/me", "Bearer " + expired, 401, ""},
		{"wrong key", "/api/admin", "Bearer " + wrongKey, 401, ""},
		{"tampered token", "/api/admin", "Bearer " + tampered, 401, ""},
		{"role check without authentication", "/unauthenticated-admin", "Bearer " + admin, 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			if tt.authz != "" {
				req.Header.Set("Authorization", tt.authz)
			}
			rec := httptest.NewRecorder()
			router.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.want, rec.Body)
			}
			if tt.want == http.StatusOK {
				var body struct {
					UserID string `json:"user_id"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.UserID != tt.wantUser {
					t.Fatalf("body %s, want user %s", rec.Body, tt.wantUser)
				}
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("Content-Type %q", ct)
			}
			var p problemBody
			dec := json.NewDecoder(rec.Body)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&p); err != nil {
				t.Fatalf("problem body: %v", err)
			}
			if p.Status != tt.want || p.Title == "" || !strings.HasPrefix(p.Type, "https://commerce.dev/problems/") {
				t.Fatalf("problem %+v", p)
			}
			wwwAuth := rec.Header().Get("WWW-Authenticate")
			switch tt.want {
			case http.StatusUnauthorized:
				if !strings.HasPrefix(wwwAuth, "Bearer") {
					t.Fatalf("WWW-Authenticate %q", wwwAuth)
				}
				if p.Detail != "invalid or expired token" || p.Type != "https://commerce.dev/problems/unauthorized" {
					t.Fatalf("401 problem %+v says too much or too little", p)
				}
			case http.StatusForbidden:
				if wwwAuth != "" {
					t.Fatalf("403 with WWW-Authenticate %q", wwwAuth)
				}
				if p.Type != "https://commerce.dev/problems/forbidden" {
					t.Fatalf("403 problem %+v", p)
				}
			}
		})
	}
}

func TestMiddlewareDoesNotRunHandlerOnFailure(t *testing.T) {
	t.Parallel()
	tokens := mustTokens(t, newFakeClock(), auth.TokensConfig{})
	ran := false
	r := gin.New()
	r.GET("/x", auth.Authenticate(tokens), auth.RequireRole(customer.RoleAdmin), func(c *gin.Context) { ran = true })
	for _, authz := range []string{"", "Bearer " + mustIssue(t, tokens, "u", customer.RoleShopper)} {
		req := httptest.NewRequest(http.MethodGet, "/x", nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		r.ServeHTTP(httptest.NewRecorder(), req)
	}
	if ran {
		t.Fatal("handler ran after a rejected request")
	}
}

func TestRequireRolePanicsOnBadRoutes(t *testing.T) {
	t.Parallel()
	for name, roles := range map[string][]customer.Role{"none": nil, "typo": {customer.Role("admn")}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RequireRole(%s) did not panic", name)
				}
			}()
			auth.RequireRole(roles...)
		}()
	}
}

func TestClaimsFromWithoutAuthenticate(t *testing.T) {
	t.Parallel()
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	if _, ok := auth.ClaimsFrom(c); ok {
		t.Fatal("claims found on a fresh context")
	}
}
