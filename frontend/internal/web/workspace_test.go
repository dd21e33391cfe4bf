package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/duckgate/duckgate/shared/api"
)

// stubWorkspace serves the stub user's conversations and images: one
// conversation "c1" with an exchange whose answer was cut short, and one
// image "i1". Changes are recorded in the conversation itself.
func stubWorkspace(mux *http.ServeMux) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	conv := api.Conversation{ID: "c1", Title: "Ducks <b>and</b> ponds", MessageCount: 2, CreatedAt: at, UpdatedAt: at}
	writeJSON := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	notFound := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", api.ProblemContentType)
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"status":404,"title":"Not Found","detail":"no such conversation"}`))
	}
	mux.HandleFunc("GET /conversations", func(w http.ResponseWriter, r *http.Request) {
		list := api.ConversationList{Items: []api.Conversation{}}
		if q := r.URL.Query().Get("q"); q == "" || strings.Contains(conv.Title, q) {
			list.Items, list.Total = append(list.Items, conv), 1
		}
		writeJSON(w, list)
	})
	mux.HandleFunc("GET /conversations/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != conv.ID {
			notFound(w)
			return
		}
		writeJSON(w, api.ConversationDetail{Conversation: conv, Messages: []api.ConversationMessage{
			{ID: "m1", Role: "user", Content: "Where do <ducks> sleep?"},
			{ID: "m2", Role: "assistant", Content: "On the **water**, mostly", CutShort: true},
		}})
	})
	mux.HandleFunc("PATCH /conversations/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != conv.ID {
			notFound(w)
			return
		}
		var in api.ConversationPatch
		_ = json.NewDecoder(r.Body).Decode(&in)
		if in.Title != nil {
			conv.Title = *in.Title
		}
		if in.Pinned != nil {
			conv.Pinned = *in.Pinned
		}
		writeJSON(w, conv)
	})
	mux.HandleFunc("DELETE /conversations/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != conv.ID {
			notFound(w)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /generate/image", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, api.ImageList{Total: 1, UsedBytes: 3 << 20, QuotaBytes: 100 << 20, Items: []api.StoredImage{{
			ID: "i1", Prompt: "a duck", Model: "img/model", MediaType: "image/png", Bytes: 3 << 20,
			ContentURL: "/generate/image/i1/content", CreatedAt: at}}})
	})
	mux.HandleFunc("DELETE /generate/image/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
}

func TestChatPageShowsTheConversationsKeptOnTheServer(t *testing.T) {
	fe := startFrontend(t, startStubBackend(t).URL)
	c := signedIn(t, fe.URL)

	_, page := get(t, c, fe.URL+"/chat")
	if !strings.Contains(page, `<a href="/chat?c=c1">`) || !strings.Contains(page, "Ducks &lt;b&gt;and&lt;/b&gt; ponds") {
		t.Errorf("the sidebar does not list the conversation, escaped: %.2000s", page)
	}
	if !strings.Contains(page, `<h1 id="chat-title">New conversation</h1>`) || strings.Contains(page, "Where do") {
		t.Errorf("/chat without a conversation should open a new one")
	}

	_, page = get(t, c, fe.URL+"/chat?c=c1")
	for _, want := range []string{
		`data-conversation="c1"`,
		`<a href="/chat?c=c1" aria-current="page">`,
		`<li class="msg msg-user" data-id="m1">`, `Where do &lt;ducks&gt; sleep?`,
		`<li class="msg msg-assistant" data-id="m2" data-cut="true">`, `On the **water**, mostly`,
		`href="/api/conversations/c1/export?format=markdown"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the open conversation lacks %q", want)
		}
	}

	_, page = get(t, c, fe.URL+"/chat?q=geese")
	if !strings.Contains(page, "No conversation mentions “geese”.") || strings.Contains(page, `href="/chat?c=c1"`) {
		t.Errorf("a search that finds nothing says so")
	}
	_, page = get(t, c, fe.URL+"/chat?c=gone")
	if !strings.Contains(page, "That conversation does not exist any more.") {
		t.Errorf("an unknown conversation is not explained")
	}
}

func TestChatRenamesPinsAndDeletesConversations(t *testing.T) {
	fe := startFrontend(t, startStubBackend(t).URL)
	c := signedIn(t, fe.URL)
	token := pageToken(t, c, fe.URL+"/chat")

	resp, _ := postForm(t, c, fe.URL+"/chat/c1/rename", url.Values{"csrf_token": {token}, "title": {"Pond notes"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/chat?c=c1" {
		t.Fatalf("rename: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, page := get(t, c, fe.URL+"/chat?c=c1")
	if !strings.Contains(page, "Renamed to “Pond notes”.") || !strings.Contains(page, `<h1 id="chat-title">Pond notes</h1>`) {
		t.Errorf("renamed: %.1500s", page)
	}

	postForm(t, c, fe.URL+"/chat/c1/pin", url.Values{"csrf_token": {token}, "pinned": {"true"}})
	_, page = get(t, c, fe.URL+"/chat?c=c1")
	if !strings.Contains(page, "Pinned to the top of the list.") || !strings.Contains(page, `data-pinned="true"`) || !strings.Contains(page, ">Unpin<") {
		t.Errorf("pinned: %.1500s", page)
	}

	resp, _ = postForm(t, c, fe.URL+"/chat/c1/delete", url.Values{"csrf_token": {token}, "open": {"c1"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/chat" {
		t.Fatalf("delete: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, _ = postForm(t, c, fe.URL+"/chat/gone/delete", url.Values{"csrf_token": {token}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete of an unknown conversation: %d", resp.StatusCode)
	}
	_, page = get(t, c, fe.URL+"/chat")
	if !strings.Contains(page, "That conversation does not exist any more.") {
		t.Errorf("deleting an unknown conversation is not explained")
	}

	resp, _ = postForm(t, c, fe.URL+"/chat/c1/rename", url.Values{"title": {"no token"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("rename without a CSRF token: %d, want 403", resp.StatusCode)
	}
}

func TestImagesPageIsAGalleryOfKeptImages(t *testing.T) {
	fe := startFrontend(t, startStubBackend(t).URL)
	c := signedIn(t, fe.URL)
	_, page := get(t, c, fe.URL+"/images")
	for _, want := range []string{`<li data-image="i1">`, `src="/api/generate/image/i1/content"`, "a duck", "img/model",
		"2026-03-04 05:06 UTC", `download="duckgate-image-i1.png"`, `action="/images/i1/delete"`, "3.0 MB of 100.0 MB used."} {
		if !strings.Contains(page, want) {
			t.Errorf("the gallery lacks %q", want)
		}
	}
	token := pageToken(t, c, fe.URL+"/images")
	resp, _ := postForm(t, c, fe.URL+"/images/i1/delete", url.Values{"csrf_token": {token}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/images" {
		t.Fatalf("delete: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, page = get(t, c, fe.URL+"/images"); !strings.Contains(page, "The image was deleted.") {
		t.Errorf("no word that the image was deleted")
	}
}

func TestVideoStatusesAreWordsForPeople(t *testing.T) {
	for status, want := range map[string]string{api.VideoPending: "Waiting to start", api.VideoInProgress: "Being made",
		api.VideoCompleted: "Ready", api.VideoFailed: "Failed", api.VideoCancelled: "Cancelled", api.VideoExpired: "Expired"} {
		if got := videoStatusWord(status); got != want {
			t.Errorf("%s: %q, want %q", status, got, want)
		}
	}
}
