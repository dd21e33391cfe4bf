package ai

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/duckgate/duckgate/backend/internal/auth"
	"github.com/duckgate/duckgate/backend/internal/httpx"
)

// OpenAIHandler serves the OpenAI-compatible /v1 routes.
type OpenAIHandler struct{ svc *Service }

// NewOpenAIHandler returns the /v1 face of svc.
func NewOpenAIHandler(svc *Service) *OpenAIHandler { return &OpenAIHandler{svc: svc} }

// Models lists models (GET /v1/models).
func (h *OpenAIHandler) Models(c *gin.Context) {
	out, err := h.svc.OpenAIModels(c.Request.Context())
	httpx.Respond(c, http.StatusOK, out, err)
}

// ChatCompletions answers POST /v1/chat/completions, whole or streamed.
func (h *OpenAIHandler) ChatCompletions(c *gin.Context) {
	var body json.RawMessage
	if err := httpx.BindJSON(c, &body); err != nil {
		httpx.Abort(c, err)
		return
	}
	userID := auth.PrincipalOf(c).UserID
	chat, err := h.svc.parseV1Chat(userID, body)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	if !chat.stream {
		out, err := h.svc.OpenAIChat(c.Request.Context(), userID, chat)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		c.Data(http.StatusOK, "application/json", out)
		return
	}
	if err := h.svc.OpenAIStreamChat(c.Request.Context(), userID, chat, httpx.EventWriter(c)); err != nil {
		httpx.Abort(c, err)
	}
}

// ImageGenerations answers POST /v1/images/generations.
func (h *OpenAIHandler) ImageGenerations(c *gin.Context) {
	var body json.RawMessage
	if err := httpx.BindJSON(c, &body); err != nil {
		httpx.Abort(c, err)
		return
	}
	out, err := h.svc.OpenAIImages(c.Request.Context(), auth.PrincipalOf(c).UserID, body)
	httpx.Respond(c, http.StatusOK, out, err)
}
