package auth

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/commerce-engine/commerce/domain/customer"
	"github.com/gin-gonic/gin"
)

// claimsKey is the gin context key under which Authenticate stores Claims.
type claimsKey struct{}

// ClaimsFrom returns the claims Authenticate stored for this request, and
// false when the request did not pass through Authenticate.
func ClaimsFrom(c *gin.Context) (Claims, bool) {
	v, ok := c.Get(claimsKey{})
	if !ok {
		return Claims{}, false
	}
	claims, ok := v.(Claims)
	return claims, ok
}

// Authenticate returns gin middleware that requires "Authorization: Bearer
// <access token>" and stores the verified Claims for ClaimsFrom; a missing,
// malformed, tampered or expired token is aborted with a 401 problem+json and
// "WWW-Authenticate: Bearer" that never says which (the reason is attached to
// c.Errors as a private error, for logs).
func Authenticate(tokens *Tokens) gin.HandlerFunc {
	return func(c *gin.Context) {
		token, ok := bearerToken(c.GetHeader("Authorization"))
		if !ok {
			// RFC 6750 3.1: no error code when the request had no credentials.
			c.Header("WWW-Authenticate", `Bearer realm="commerce"`)
			abortProblem(c, http.StatusUnauthorized, "invalid or expired token")
			return
		}
		claims, err := tokens.Verify(token)
		if err != nil {
			_ = c.Error(err).SetType(gin.ErrorTypePrivate)
			c.Header("WWW-Authenticate", `Bearer realm="commerce", error="invalid_token"`)
			abortProblem(c, http.StatusUnauthorized, "invalid or expired token")
			return
		}
		c.Set(claimsKey{}, claims)
		c.Next()
	}
}

// RequireRole returns gin middleware, placed after Authenticate, that lets
// through only tokens carrying one of roles: others get a 403 problem+json,
// and a request that was not authenticated a 401. It panics at route setup
// when roles is empty or holds an unknown role, a bug in the route table.
func RequireRole(roles ...customer.Role) gin.HandlerFunc {
	if len(roles) == 0 {
		panic("auth: RequireRole needs at least one role")
	}
	for _, r := range roles {
		if !r.Valid() {
			panic("auth: RequireRole: unknown role " + string(r))
		}
	}
	roles = slices.Clone(roles)
	return func(c *gin.Context) {
		claims, ok := ClaimsFrom(c)
		if !ok {
			c.Header("WWW-Authenticate", `Bearer realm="commerce"`)
			abortProblem(c, http.StatusUnauthorized, "invalid or expired token")
			return
		}
		if !slices.Contains(roles, claims.Role) {
			abortProblem(c, http.StatusForbidden, "this action needs another role")
			return
		}
		c.Next()
	}
}

// bearerToken extracts the token of an "Authorization: Bearer <token>"
// header; the scheme is case-insensitive (RFC 9110 11.1).
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != "" && !strings.ContainsAny(token, " \t")
}

// problem is a minimal RFC 9457 body; the shared one lives at the HTTP edge,
// which this package must not import.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// abortProblem answers status as application/problem+json with the same type
// URIs and titles as the HTTP edge, and stops the handler chain.
func abortProblem(c *gin.Context, status int, detail string) {
	code, title := "unauthorized", "Unauthorized"
	if status == http.StatusForbidden {
		code, title = "forbidden", "Forbidden"
	}
	body, _ := json.Marshal(problem{
		Type:   "https://commerce.dev/problems/" + code,
		Title:  title,
		Status: status,
		Detail: detail,
	})
	c.Header("Cache-Control", "no-store")
	c.Data(status, "application/problem+json", body)
	c.Abort()
}
