package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/duckgate/duckgate/shared/api"
)

// generatorData is what the chat, image and video pages share: the models
// to choose from. The generation itself runs in the page's script through
// the /api proxy, so answers can stream.
type generatorData struct {
	Models       []api.Model
	AspectRatios []string
	Jobs         []api.VideoJob
}

// models loads the models of a modality. When AI is not configured (503) or
// the list fails, the page still renders with a notice instead of failing
// (see aiNotice).
func (a *app) models(c echo.Context, modality string) ([]api.Model, string) {
	cl, ctx, cancel := a.api(c)
	defer cancel()
	list, err := cl.Models(ctx, modality)
	if err != nil {
		u := userFrom(c)
		return nil, aiNotice(err, u != nil && u.Role == api.RoleAdmin)
	}
	return list.Data, ""
}

func (a *app) chat(c echo.Context) error {
	models, notice := a.models(c, api.ModalityText)
	v := a.newView(c, "Chat", "chat", generatorData{Models: models})
	v.Notice = notice
	return c.Render(http.StatusOK, "chat", v)
}

func (a *app) images(c echo.Context) error {
	models, notice := a.models(c, api.ModalityImage)
	v := a.newView(c, "Images", "images", generatorData{Models: models, AspectRatios: api.ChatImageAspectRatios()})
	v.Notice = notice
	return c.Render(http.StatusOK, "images", v)
}

func (a *app) videos(c echo.Context) error {
	models, notice := a.models(c, api.ModalityVideo)
	data := generatorData{Models: models, AspectRatios: []string{"16:9", "9:16", "1:1"}}
	cl, ctx, cancel := a.api(c)
	defer cancel()
	if jobs, err := cl.VideoJobs(ctx, 10, 0); err == nil {
		data.Jobs = jobs.Items
	}
	v := a.newView(c, "Videos", "videos", data)
	v.Notice = notice
	return c.Render(http.StatusOK, "videos", v)
}
