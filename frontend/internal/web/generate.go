package web

import (
	"net/http"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
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

func (a *app) images(c echo.Context) error {
	data := imagesData{AspectRatios: api.ChatImageAspectRatios()}
	var notice, listNotice string
	cl, ctx, cancel := a.api(c)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		data.Models, notice = a.models(c, api.ModalityImage)
	}()
	if list, err := cl.Images(ctx, galleryPage, 0); err == nil {
		data.Images = list
	} else {
		listNotice = "Your images could not be loaded. " + explain(err).Message
	}
	wg.Wait()
	v := a.newView(c, "Images", "images", data)
	v.Notice = strings.TrimSpace(notice + " " + listNotice)
	return c.Render(http.StatusOK, "images", v)
}

// galleryPage is how many kept images /images shows.
const galleryPage = 60

type imagesData struct {
	Models       []api.Model
	AspectRatios []string
	Images       *api.ImageList
}

func (a *app) deleteImage(c echo.Context) error {
	cl, ctx, cancel := a.api(c)
	defer cancel()
	err := cl.DeleteImage(ctx, c.Param("id"))
	switch {
	case err == nil:
		a.setFlash(c, "The image was deleted.")
	case client.IsStatus(err, http.StatusNotFound):
		a.setFlash(c, "That image was deleted already.")
	case client.IsStatus(err, http.StatusUnauthorized):
		return err
	default:
		a.setFlash(c, "The image was not deleted. "+explain(err).Message)
	}
	return redirect(c, "/images")
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

// videoStatusWord is a video job's status as a person reads it (videos.js
// has the same words).
func videoStatusWord(status string) string {
	switch status {
	case api.VideoPending:
		return "Waiting to start"
	case api.VideoInProgress:
		return "Being made"
	case api.VideoCompleted:
		return "Ready"
	case api.VideoFailed:
		return "Failed"
	case api.VideoCancelled:
		return "Cancelled"
	case api.VideoExpired:
		return "Expired"
	}
	return "Unknown"
}
