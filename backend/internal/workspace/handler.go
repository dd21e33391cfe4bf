package workspace

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/duckgate/duckgate/backend/internal/auth"
	"github.com/duckgate/duckgate/backend/internal/httpx"
	"github.com/duckgate/duckgate/shared/api"
)

// Handler serves /conversations/*.
type Handler struct{ svc *Service }

// NewHandler returns the HTTP face of svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// List pages through the caller's conversations (GET /conversations).
func (h *Handler) List(c *gin.Context) {
	limit, offset, err := httpx.Paging(c, 50, 200)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	list, err := h.svc.List(c.Request.Context(), auth.PrincipalOf(c).UserID, c.Query("q"), limit, offset)
	httpx.Respond(c, http.StatusOK, list, err)
}

// Create starts a conversation (POST /conversations).
func (h *Handler) Create(c *gin.Context) {
	var in api.NewConversationRequest
	if err := httpx.BindJSON(c, &in); err != nil {
		httpx.Abort(c, err)
		return
	}
	conv, err := h.svc.Create(c.Request.Context(), auth.PrincipalOf(c).UserID, in)
	httpx.Respond(c, http.StatusCreated, conv, err)
}

// Get answers a conversation with its messages (GET /conversations/{id}).
func (h *Handler) Get(c *gin.Context) {
	conv, err := h.svc.Get(c.Request.Context(), auth.PrincipalOf(c).UserID, c.Param("id"))
	httpx.Respond(c, http.StatusOK, conv, err)
}

// Update renames, pins or reconfigures a conversation (PATCH /conversations/{id}).
func (h *Handler) Update(c *gin.Context) {
	var in api.ConversationPatch
	if err := httpx.BindJSON(c, &in); err != nil {
		httpx.Abort(c, err)
		return
	}
	conv, err := h.svc.Update(c.Request.Context(), auth.PrincipalOf(c).UserID, c.Param("id"), in)
	httpx.Respond(c, http.StatusOK, conv, err)
}

// Delete deletes a conversation (DELETE /conversations/{id}).
func (h *Handler) Delete(c *gin.Context) {
	if err := h.svc.Delete(c.Request.Context(), auth.PrincipalOf(c).UserID, c.Param("id")); err != nil {
		httpx.Abort(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// Send adds the caller's message and streams the answer
// (POST /conversations/{id}/messages).
func (h *Handler) Send(c *gin.Context) {
	var in api.SendMessageRequest
	if err := httpx.BindJSON(c, &in); err != nil {
		httpx.Abort(c, err)
		return
	}
	err := h.svc.Send(c.Request.Context(), auth.PrincipalOf(c).UserID, c.Param("id"), in, httpx.EventWriter(c))
	if err != nil {
		httpx.Abort(c, err)
	}
}

// Regenerate replaces the last answer (POST /conversations/{id}/regenerate).
func (h *Handler) Regenerate(c *gin.Context) {
	var in api.RegenerateRequest
	if c.Request.ContentLength != 0 { // the body is optional
		if err := httpx.BindJSON(c, &in); err != nil {
			httpx.Abort(c, err)
			return
		}
	}
	err := h.svc.Regenerate(c.Request.Context(), auth.PrincipalOf(c).UserID, c.Param("id"), in, httpx.EventWriter(c))
	if err != nil {
		httpx.Abort(c, err)
	}
}

// Edit replaces a user message and continues from it
// (PUT /conversations/{id}/messages/{messageId}).
func (h *Handler) Edit(c *gin.Context) {
	var in api.EditMessageRequest
	if err := httpx.BindJSON(c, &in); err != nil {
		httpx.Abort(c, err)
		return
	}
	err := h.svc.Edit(c.Request.Context(), auth.PrincipalOf(c).UserID, c.Param("id"), c.Param("messageId"), in, httpx.EventWriter(c))
	if err != nil {
		httpx.Abort(c, err)
	}
}

// Export downloads a conversation as Markdown or JSON
// (GET /conversations/{id}/export?format=).
func (h *Handler) Export(c *gin.Context) {
	out, err := h.svc.Export(c.Request.Context(), auth.PrincipalOf(c).UserID, c.Param("id"), strings.ToLower(c.Query("format")))
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="`+out.FileName+`"`)
	c.Data(http.StatusOK, out.ContentType, out.Body)
}
