package web

import (
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
)

// The chat page: the signed-in user's conversations, kept by the backend,
// in a sidebar, and the open one in the middle. The page is rendered here;
// sending, regenerating and editing stream through the /api proxy from
// chat.js. Nothing of a conversation is kept in the browser.

// sidebarSize is how many conversations the sidebar lists.
const sidebarSize = 50

type chatData struct {
	Models        []api.Model
	Conversations []api.Conversation
	Total         int
	Query         string
	Open          *api.ConversationDetail
	OpenModel     string
}

func (a *app) chat(c echo.Context) error {
	data := chatData{Query: strings.TrimSpace(c.QueryParam("q"))}
	openID := c.QueryParam("c")
	var notice, listNotice, openNotice string
	cl, ctx, cancel := a.api(c)
	defer cancel()

	// The page's three backend calls go out together: the page takes as
	// long as the slowest of them, not their sum.
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		data.Models, notice = a.models(c, api.ModalityText)
	}()
	go func() {
		defer wg.Done()
		list, err := cl.Conversations(ctx, client.ConversationParams{Limit: sidebarSize, Query: data.Query})
		if err != nil {
			listNotice = "Your conversations could not be loaded. " + explain(err).Message
			return
		}
		data.Conversations, data.Total = list.Items, list.Total
	}()
	if openID != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := cl.Conversation(ctx, openID)
			if err != nil {
				if client.IsStatus(err, http.StatusNotFound) {
					openNotice = "That conversation does not exist any more. Start a new one or pick one from the list."
				} else {
					openNotice = "The conversation could not be loaded. " + explain(err).Message
				}
				return
			}
			data.Open = d
			data.OpenModel = d.Model
		}()
	}
	wg.Wait()
	v := a.newView(c, "Chat", "chat", data)
	v.Notice = strings.TrimSpace(strings.Join([]string{notice, openNotice, listNotice}, " "))
	return c.Render(http.StatusOK, "chat", v)
}

// back is the chat page showing conversation id (none: a new one).
func chatURL(id string) string {
	if id == "" {
		return "/chat"
	}
	return "/chat?c=" + url.QueryEscape(id)
}

func (a *app) renameConversation(c echo.Context) error {
	id := c.Param("id")
	title := strings.TrimSpace(c.FormValue("title"))
	if title == "" {
		a.setFlash(c, "Give the conversation a name.")
		return redirect(c, chatURL(id))
	}
	cl, ctx, cancel := a.api(c)
	defer cancel()
	if _, err := cl.UpdateConversation(ctx, id, api.ConversationPatch{Title: &title}); err != nil {
		return a.conversationFailed(c, err, id)
	}
	a.setFlash(c, "Renamed to “"+title+"”.")
	return redirect(c, chatURL(id))
}

func (a *app) pinConversation(c echo.Context) error {
	id := c.Param("id")
	pinned := c.FormValue("pinned") == "true"
	cl, ctx, cancel := a.api(c)
	defer cancel()
	if _, err := cl.UpdateConversation(ctx, id, api.ConversationPatch{Pinned: &pinned}); err != nil {
		return a.conversationFailed(c, err, id)
	}
	if pinned {
		a.setFlash(c, "Pinned to the top of the list.")
	} else {
		a.setFlash(c, "Unpinned.")
	}
	return redirect(c, chatURL(id))
}

func (a *app) deleteConversation(c echo.Context) error {
	id := c.Param("id")
	cl, ctx, cancel := a.api(c)
	defer cancel()
	if err := cl.DeleteConversation(ctx, id); err != nil {
		return a.conversationFailed(c, err, "")
	}
	a.setFlash(c, "The conversation was deleted.")
	back := ""
	if open := c.FormValue("open"); open != "" && open != id {
		back = open
	}
	return redirect(c, chatURL(back))
}

// conversationFailed shows why a change to a conversation failed, on the
// chat page.
func (a *app) conversationFailed(c echo.Context, err error, id string) error {
	if client.IsStatus(err, http.StatusNotFound) {
		a.setFlash(c, "That conversation does not exist any more.")
		return redirect(c, chatURL(""))
	}
	if client.IsStatus(err, http.StatusUnauthorized) {
		return err
	}
	a.setFlash(c, explain(err).Message)
	return redirect(c, chatURL(id))
}

// conversationEntry is one conversation of the sidebar, for the template
// that draws it (also as the <template> chat.js fills for a conversation
// started on the page, with the id newEntryID).
type conversationEntry struct {
	Conversation api.Conversation
	Open, CSRF   string
}

const newEntryID = "__ID__"

func entry(c api.Conversation, open, csrf string) conversationEntry {
	return conversationEntry{Conversation: c, Open: open, CSRF: csrf}
}

func newEntry() api.Conversation { return api.Conversation{ID: newEntryID} }
