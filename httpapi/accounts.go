package httpapi

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/commerce-engine/commerce/apperr"
	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/httpedge"
)

// MountAuth registers the public account routes behind mw. Their answers
// carry credentials, so they must not go through an idempotency store that
// keeps answers: a retried registration is a 409, a retried login a new
// session, both safe.
func (a *API) MountAuth(r gin.IRouter, idem gin.HandlerFunc) {
	g := r.Group("/api/v1/auth", idem)
	g.POST("/register", a.register)
	g.POST("/verify-email", a.verifyEmail)
	g.POST("/login", a.login(false))
	g.POST("/refresh", a.refresh)
	g.POST("/admin/login", a.login(true))
}

type registerRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

type sessionView struct {
	UserID        string `json:"user_id"`
	AccessToken   string `json:"access_token"`
	RefreshToken  string `json:"refresh_token"`
	ExpiresIn     int64  `json:"expires_in"`
	EmailVerified *bool  `json:"email_verified,omitempty"`
}

func viewSession(s commands.Session, withVerified bool) sessionView {
	v := sessionView{UserID: s.UserID, AccessToken: s.AccessToken, RefreshToken: s.RefreshToken, ExpiresIn: int64(s.ExpiresIn.Seconds())}
	if withVerified {
		verified := s.EmailVerified
		v.EmailVerified = &verified
	}
	return v
}

func (a *API) register(c *gin.Context) {
	var req registerRequest
	if err := httpedge.DecodeJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	var fields []apperr.FieldError
	if strings.TrimSpace(req.Email) == "" {
		fields = append(fields, apperr.Field("email", "is required"))
	}
	if req.Password == "" {
		fields = append(fields, apperr.Field("password", "is required"))
	}
	if name := strings.TrimSpace(req.Name); name == "" || len(name) > 200 {
		fields = append(fields, apperr.Field("name", "is required, at most 200 bytes"))
	}
	if len(fields) > 0 {
		fail(c, apperr.Invalid("invalid registration", fields...))
		return
	}
	s, err := a.Accounts.Register(c.Request.Context(), req.Email, req.Password, strings.TrimSpace(req.Name), "", metadata(c, "register"))
	if err != nil {
		fail(c, err)
		return
	}
	answer(c, http.StatusCreated, s.Position, viewSession(s, true))
}

type tokenRequest struct {
	Token string `json:"token"`
}

func (a *API) verifyEmail(c *gin.Context) {
	var req tokenRequest
	if err := httpedge.DecodeJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	if req.Token == "" {
		fail(c, apperr.Invalid("invalid verification", apperr.Field("token", "is required")))
		return
	}
	_, pos, err := a.Accounts.VerifyEmail(c.Request.Context(), req.Token, metadata(c, "verify"))
	if err != nil {
		fail(c, err)
		return
	}
	answer(c, http.StatusOK, pos, gin.H{"email_verified": true})
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (a *API) login(admin bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		var req loginRequest
		if err := httpedge.DecodeJSON(c, &req); err != nil {
			fail(c, err)
			return
		}
		if req.Email == "" || req.Password == "" {
			fail(c, apperr.Invalid("invalid login", apperr.Field("email", "and password are required")))
			return
		}
		s, err := a.Accounts.Login(c.Request.Context(), req.Email, req.Password, c.ClientIP(), admin, metadata(c, "login"))
		if err != nil {
			fail(c, err)
			return
		}
		answer(c, http.StatusOK, s.Position, viewSession(s, false))
	}
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

func (a *API) refresh(c *gin.Context) {
	var req refreshRequest
	if err := httpedge.DecodeJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	if req.RefreshToken == "" {
		fail(c, apperr.Invalid("invalid refresh", apperr.Field("refresh_token", "is required")))
		return
	}
	s, err := a.Accounts.Refresh(c.Request.Context(), req.RefreshToken, metadata(c, "refresh"))
	if err != nil {
		fail(c, err)
		return
	}
	answer(c, http.StatusOK, s.Position, viewSession(s, false))
}
