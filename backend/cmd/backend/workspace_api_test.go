package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/duckgate/duckgate/backend/internal/fakeopenrouter"
	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
)

// readAll reads a chat stream to its end and returns the text it carried.
func readAll(t *testing.T, s *client.ChatStream) string {
	t.Helper()
	defer s.Close()
	var text strings.Builder
	for {
		chunk, err := s.Next()
		if errors.Is(err, io.EOF) {
			return text.String()
		}
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		for _, c := range chunk.Choices {
			text.WriteString(c.Delta.Content)
		}
	}
}

// send adds a message to a conversation and reads the whole answer.
func send(t *testing.T, c *client.Client, id, content string) string {
	t.Helper()
	s, err := c.SendMessage(context.Background(), id, api.SendMessageRequest{Content: content})
	if err != nil {
		t.Fatalf("send %q: %v", content, err)
	}
	return readAll(t, s)
}

func TestConversationsAreKeptTitledSearchedAndPrivate(t *testing.T) {
	t.Parallel()
	ts, _ := newAIServer(t, fakeopenrouter.Options{})
	ann, _ := ts.newUser("ann@example.com")
	bob, _ := ts.newUser("bob@example.com")
	ctx := context.Background()

	first, err := ann.CreateConversation(ctx, api.NewConversationRequest{SystemPrompt: "Answer like a duck."})
	if err != nil {
		t.Fatal(err)
	}
	answer := send(t, ann, first.ID, "Where do ducks sleep at night?")
	if !strings.Contains(answer, "Where do ducks sleep") {
		t.Fatalf("answer %q", answer)
	}
	send(t, ann, first.ID, "And in winter?")
	got, err := ann.Conversation(ctx, first.ID)
	if err != nil || len(got.Messages) != 4 || got.Messages[0].Content != "Where do ducks sleep at night?" ||
		got.Messages[1].Role != "assistant" || got.Messages[1].Content != answer || got.Messages[3].Seq != 3 {
		t.Fatalf("kept conversation %+v, %v", got, err)
	}
	// A title from the first exchange: the first words at once, then the
	// default model's (the fake echoes the message it was given).
	if got.Title == "" {
		t.Fatal("no title after the first exchange")
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.HasPrefix(got.Title, "You said"); {
		if time.Now().After(deadline) {
			t.Fatalf("the title stayed %q", got.Title)
		}
		time.Sleep(20 * time.Millisecond)
		got, _ = ann.Conversation(ctx, first.ID)
	}
	second, _ := ann.CreateConversation(ctx, api.NewConversationRequest{Title: "Groceries"})
	send(t, ann, second.ID, "Buy bread")

	list, err := ann.Conversations(ctx, client.ConversationParams{})
	if err != nil || list.Total != 2 || list.Items[0].ID != second.ID || list.Items[0].MessageCount != 2 {
		t.Fatalf("list %+v, %v", list, err)
	}
	found, _ := ann.Conversations(ctx, client.ConversationParams{Query: "winter"})
	if found.Total != 1 || found.Items[0].ID != first.ID {
		t.Fatalf("search by message text: %+v", found)
	}
	title, pinned := "Duck habits", true
	if c, err := ann.UpdateConversation(ctx, first.ID, api.ConversationPatch{Title: &title, Pinned: &pinned}); err != nil || c.Title != title || !c.Pinned {
		t.Fatalf("rename and pin: %+v, %v", c, err)
	}
	if list, _ := ann.Conversations(ctx, client.ConversationParams{}); list.Items[0].ID != first.ID {
		t.Fatal("the pinned conversation is not listed first")
	}

	// Nobody else reads, changes, continues or deletes it: not another
	// user, not an admin (admins see counts).
	for _, other := range []*client.Client{bob, ts.admin} {
		_, err := other.Conversation(ctx, first.ID)
		wantStatus(t, err, http.StatusNotFound)
		_, err = other.UpdateConversation(ctx, first.ID, api.ConversationPatch{Title: &title})
		wantStatus(t, err, http.StatusNotFound)
		_, err = other.SendMessage(ctx, first.ID, api.SendMessageRequest{Content: "hi"})
		wantStatus(t, err, http.StatusNotFound)
		wantStatus(t, other.DeleteConversation(ctx, first.ID), http.StatusNotFound)
	}
	if list, _ := bob.Conversations(ctx, client.ConversationParams{}); list.Total != 0 {
		t.Fatalf("bob lists %d conversations", list.Total)
	}
	stats, err := ts.admin.Stats(ctx)
	if err != nil || stats.Workspace.Conversations != 2 || stats.Workspace.Messages != 6 {
		t.Fatalf("admin stats %+v, %v", stats.Workspace, err)
	}

	if err := ann.DeleteConversation(ctx, second.ID); err != nil {
		t.Fatal(err)
	}
	_, err = ann.Conversation(ctx, second.ID)
	wantStatus(t, err, http.StatusNotFound)
}

func TestAnAnswerStoppedByTheClientIsKeptCutShort(t *testing.T) {
	t.Parallel()
	ts, _ := newAIServer(t, fakeopenrouter.Options{ChunkDelay: 30 * time.Millisecond})
	ann, _ := ts.newUser("ann@example.com")
	ctx := context.Background()
	c, _ := ann.CreateConversation(ctx, api.NewConversationRequest{})
	stream, err := ann.SendMessage(ctx, c.ID, api.SendMessageRequest{Content: "tell me a long story"})
	if err != nil {
		t.Fatal(err)
	}
	var partial strings.Builder
	for partial.Len() < 10 {
		chunk, err := stream.Next()
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range chunk.Choices {
			partial.WriteString(ch.Delta.Content)
		}
	}
	stream.Close() // the Stop button
	var got *api.ConversationDetail
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err = ann.Conversation(ctx, c.ID)
		if err == nil && len(got.Messages) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stopped exchange was not kept: %+v, %v", got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	answer := got.Messages[1]
	if !answer.CutShort || !strings.HasPrefix(answer.Content, partial.String()) || strings.HasSuffix(answer.Content, "fake OpenRouter.") {
		t.Fatalf("kept answer %+v; the client saw %q", answer, partial.String())
	}
	// The conversation goes on after it.
	send(t, ann, c.ID, "and then?")
	if got, _ := ann.Conversation(ctx, c.ID); len(got.Messages) != 4 || got.Messages[3].CutShort {
		t.Fatalf("after the stop: %+v", got.Messages)
	}
}

func TestARejectedMessageLeavesTheConversationAsItWas(t *testing.T) {
	t.Parallel()
	ts, fake := newAIServer(t, fakeopenrouter.Options{})
	ann, _ := ts.newUser("ann@example.com")
	ctx := context.Background()
	c, _ := ann.CreateConversation(ctx, api.NewConversationRequest{})
	send(t, ann, c.ID, "hello")

	_, err := ann.SendMessage(ctx, c.ID, api.SendMessageRequest{Content: strings.Repeat("x", 300<<10)})
	p := wantStatus(t, err, http.StatusUnprocessableEntity)
	if len(p.Errors) != 1 || p.Errors[0].Field != "content" || !strings.Contains(p.Errors[0].Message, "256 KB") {
		t.Fatalf("problem %+v", p)
	}
	fake.Fail(fakeopenrouter.FailureRule{Mode: fakeopenrouter.FailServerError, Times: 1})
	_, err = ann.SendMessage(ctx, c.ID, api.SendMessageRequest{Content: "this one meets an outage"})
	wantStatus(t, err, http.StatusBadGateway)

	if got, _ := ann.Conversation(ctx, c.ID); len(got.Messages) != 2 {
		t.Fatalf("refused messages were kept: %d messages", len(got.Messages))
	}
	// Nothing is poisoned: the next message is answered.
	if answer := send(t, ann, c.ID, "still there?"); !strings.Contains(answer, "still there?") {
		t.Fatalf("answer %q", answer)
	}
}

func TestRegenerateEditAndExport(t *testing.T) {
	t.Parallel()
	ts, fake := newAIServer(t, fakeopenrouter.Options{})
	ann, _ := ts.newUser("ann@example.com")
	ctx := context.Background()
	c, _ := ann.CreateConversation(ctx, api.NewConversationRequest{Title: "Plans"})
	send(t, ann, c.ID, "first question")
	send(t, ann, c.ID, "second question")
	before, _ := ann.Conversation(ctx, c.ID)

	stream, err := ann.Regenerate(ctx, c.ID, api.RegenerateRequest{Model: "anthropic/claude-sonnet-4.5"})
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, stream)
	after, _ := ann.Conversation(ctx, c.ID)
	if len(after.Messages) != 4 || after.Messages[3].ID == before.Messages[3].ID || after.Messages[3].Model != "anthropic/claude-sonnet-4.5" ||
		after.Messages[2].ID != before.Messages[2].ID {
		t.Fatalf("regenerated: %+v", after.Messages)
	}
	// What went upstream: the history up to the question, not the old answer.
	sent, _ := fake.LastRequest("/chat/completions")
	var body struct{ Messages []api.ChatMessage }
	_ = json.Unmarshal(sent.Body, &body)
	if len(body.Messages) != 3 || body.Messages[2].Content != "second question" {
		t.Fatalf("regeneration sent %+v", body.Messages)
	}

	stream, err = ann.EditMessage(ctx, c.ID, after.Messages[0].ID, api.EditMessageRequest{Content: "first question, better"})
	if err != nil {
		t.Fatal(err)
	}
	answer := readAll(t, stream)
	edited, _ := ann.Conversation(ctx, c.ID)
	if len(edited.Messages) != 2 || edited.Messages[0].Content != "first question, better" || edited.Messages[1].Content != answer {
		t.Fatalf("after the edit: %+v", edited.Messages)
	}
	_, err = ann.EditMessage(ctx, c.ID, edited.Messages[1].ID, api.EditMessageRequest{Content: "not mine to edit"})
	wantStatus(t, err, http.StatusNotFound) // an answer is not the user's message

	for format, want := range map[string]string{"markdown": "# Plans", "json": `"title": "Plans"`} {
		body, err := ann.ExportConversation(ctx, c.ID, format)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(body)
		body.Close()
		if !strings.Contains(string(b), want) || !strings.Contains(string(b), "first question, better") {
			t.Fatalf("%s export: %s", format, b)
		}
	}
	empty, _ := ann.CreateConversation(ctx, api.NewConversationRequest{})
	_, err = ann.Regenerate(ctx, empty.ID, api.RegenerateRequest{})
	wantStatus(t, err, http.StatusConflict)
}

func TestGeneratedImagesAreKeptForTheirOwner(t *testing.T) {
	t.Parallel()
	ts, _ := newAIServer(t, fakeopenrouter.Options{}, "IMAGE_QUOTA_BYTES", "4096")
	ann, _ := ts.newUser("ann@example.com")
	bob, _ := ts.newUser("bob@example.com")
	ctx := context.Background()
	out, err := ann.GenerateImage(ctx, api.ImageRequest{Prompt: "a duck on a pond"})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Images) == 0 || out.Images[0].ID == "" || out.Images[0].ContentURL != "/generate/image/"+out.Images[0].ID+"/content" {
		t.Fatalf("generated %+v", out.Images)
	}
	id := out.Images[0].ID
	list, err := ann.Images(ctx, 0, 0)
	if err != nil || list.Total != 1 || list.Items[0].ID != id || list.Items[0].Prompt != "a duck on a pond" ||
		list.Items[0].MediaType != "image/png" || list.UsedBytes == 0 || list.QuotaBytes != 4096 {
		t.Fatalf("list %+v, %v", list, err)
	}
	body, err := ann.ImageContent(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	png, _ := io.ReadAll(body)
	body.Close()
	if !strings.HasPrefix(string(png), "\x89PNG") || int64(len(png)) != list.Items[0].Bytes {
		t.Fatalf("content: %d bytes", len(png))
	}
	_, err = bob.ImageContent(ctx, id)
	wantStatus(t, err, http.StatusNotFound)
	if b, err := ts.admin.ImageContent(ctx, id); err != nil {
		t.Fatalf("an admin reads it: %v", err)
	} else {
		b.Close()
	}
	wantStatus(t, bob.DeleteImage(ctx, id), http.StatusNotFound)

	// Over the quota, generating is refused until images are deleted.
	for list.UsedBytes < 4096 {
		if _, err := ann.GenerateImage(ctx, api.ImageRequest{Prompt: "another duck"}); err != nil {
			t.Fatal(err)
		}
		list, _ = ann.Images(ctx, 0, 0)
	}
	_, err = ann.GenerateImage(ctx, api.ImageRequest{Prompt: "one too many"})
	if p := wantStatus(t, err, http.StatusConflict); !strings.Contains(p.Detail, "storage is full") {
		t.Fatalf("problem %+v", p)
	}
	for _, img := range list.Items {
		if err := ann.DeleteImage(ctx, img.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ann.GenerateImage(ctx, api.ImageRequest{Prompt: "room again"}); err != nil {
		t.Fatalf("after deleting: %v", err)
	}
}
