package auth

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/duckgate/duckgate/backend/internal/httpx"
	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/shared/api"
)

// Handler serves /auth/* and the JWKS.
type Handler struct {
	svc    *Service
	tokens *Tokens
}

// NewHandler returns the HTTP face of svc.
func NewHandler(svc *Service, tokens *Tokens) *Handler { return &Handler{svc: svc, tokens: tokens} }

// Register creates an account (POST /auth/register).
func (h *Handler) Register(c *gin.Context) {
	var req api.RegisterRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Abort(c, err)
		return
	}
	u, err := h.svc.Register(c.Request.Context(), req)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	httpx.JSON(c, http.StatusCreated, UserJSON(u))
}

// Login takes JSON {email, password} or, for the OAuth2 password flow (the
// docs page's Authorize button), a form with username and password.
func (h *Handler) Login(c *gin.Context) {
	var req api.LoginRequest
	if strings.HasPrefix(c.GetHeader("Content-Type"), "application/x-www-form-urlencoded") {
		if err := c.Request.ParseForm(); err != nil {
			httpx.Abort(c, httpx.BadRequest("the form body could not be read"))
			return
		}
		httpx.BodyRead(c)
		req.Email, req.Password = c.Request.PostForm.Get("username"), c.Request.PostForm.Get("password")
	} else if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Abort(c, err)
		return
	}
	var fields model.Fields
	if strings.TrimSpace(req.Email) == "" {
		fields.Add("email", "is required")
	}
	if req.Password == "" {
		fields.Add("password", "is required")
	}
	if err := fields.Err(); err != nil {
		httpx.Abort(c, err)
		return
	}
	remember := req.Remember == nil || *req.Remember
	pair, err := h.svc.Login(c.Request.Context(), req.Email, req.Password, remember, ClientOf(c))
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	noStore(c)
	httpx.JSON(c, http.StatusOK, pair)
}

// Refresh rotates a refresh token (POST /auth/refresh).
func (h *Handler) Refresh(c *gin.Context) {
	var req api.RefreshRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Abort(c, err)
		return
	}
	pair, err := h.svc.Refresh(c.Request.Context(), req.RefreshToken, ClientOf(c))
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	noStore(c)
	httpx.JSON(c, http.StatusOK, pair)
}

// Logout ends a session (POST /auth/logout).
func (h *Handler) Logout(c *gin.Context) {
	var req api.RefreshRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Abort(c, err)
		return
	}
	if err := h.svc.Logout(c.Request.Context(), req.RefreshToken); err != nil {
		httpx.Abort(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// JWKS publishes the token signing keys (GET /.well-known/jwks.json).
func (h *Handler) JWKS(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "application/json; charset=utf-8", h.tokens.JWKS())
}

// ClientOf describes the caller: gin's ClientIP believes X-Forwarded-For only
// from the trusted proxies (the frontend), so sessions show the browser's
// address rather than the frontend's.
func ClientOf(c *gin.Context) Client {
	ua := c.GetHeader("User-Agent")
	if len(ua) > 512 {
		ua = strings.ToValidUTF8(ua[:512], "")
	}
	return Client{IP: c.ClientIP(), UserAgent: ua, RequestID: httpx.RequestIDOf(c)}
}

func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
}

// UserJSON is the public view of a user row.
func UserJSON(u model.User) api.User {
	return api.User{ID: u.ID.String(), Email: u.Email, Role: u.Role, CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC()}
}
