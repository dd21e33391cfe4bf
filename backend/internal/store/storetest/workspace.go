package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
)

func init() {
	register("ConversationsBelongToTheirOwner", conversationsOwned)
	register("MessagesReplaceFromASeqAndRefuseAStaleCount", messagesReplace)
	register("ConcurrentSendsToOneConversationDoNotOverwriteEachOther", concurrentSends)
	register("ConversationsListPinnedFirstAndSearchTitlesAndText", conversationsList)
	register("ImagesAreKeptPerUserWithTheirBytes", imagesKept)
	register("DeletingAUserDeletesTheirWorkspace", deleteUserWorkspace)
}

// conversation starts a conversation of u, with a title.
func (e *env) conversation(u model.User, title string) model.Conversation {
	e.t.Helper()
	c := model.NewConversation(u.ID, e.clk.Now())
	c.Title = title
	if err := e.s.CreateConversation(e.ctx, c); err != nil {
		e.t.Fatal(err)
	}
	return c
}

func exchange(question, answer string) []model.Message {
	return []model.Message{{Role: "user", Content: question}, {Role: "assistant", Content: answer, Model: "m/a"}}
}

func conversationsOwned(t *testing.T, e *env) {
	ann, bob := e.user("ann@example.com", model.RoleUser), e.user("bob@example.com", model.RoleUser)
	c := e.conversation(ann, "")
	if err := e.s.ReplaceMessages(e.ctx, ann.ID, c.ID, 0, 0, exchange("hello", "hi there"), "hello"); err != nil {
		t.Fatal(err)
	}
	got, msgs, err := e.s.Conversation(e.ctx, ann.ID, c.ID)
	if err != nil || got.Title != "hello" || got.MessageCount != 2 || len(msgs) != 2 {
		t.Fatalf("read: %+v %d messages, %v", got, len(msgs), err)
	}
	if msgs[0].Seq != 0 || msgs[0].Role != "user" || msgs[1].Seq != 1 || msgs[1].Content != "hi there" || msgs[1].Model != "m/a" ||
		msgs[1].ConversationID != c.ID || msgs[1].ID == uuid.Nil || msgs[1].CreatedAt.IsZero() {
		t.Fatalf("messages %+v", msgs)
	}
	// Another user sees, changes and deletes nothing of it.
	if _, _, err := e.s.Conversation(e.ctx, bob.ID, c.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("read by another user: %v, want ErrNotFound", err)
	}
	title := "mine now"
	if _, err := e.s.UpdateConversation(e.ctx, bob.ID, c.ID, model.ConversationChange{Title: &title}); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("update by another user: %v, want ErrNotFound", err)
	}
	if err := e.s.ReplaceMessages(e.ctx, bob.ID, c.ID, 2, 2, exchange("x", "y"), ""); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("messages by another user: %v, want ErrNotFound", err)
	}
	if err := e.s.DeleteConversation(e.ctx, bob.ID, c.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("delete by another user: %v, want ErrNotFound", err)
	}
	if page, _ := e.s.ListConversations(e.ctx, model.ConversationFilter{UserID: bob.ID, Limit: 10}); page.Total != 0 {
		t.Fatalf("another user lists %d conversations", page.Total)
	}
	// The owner changes and deletes it.
	pinned, prompt, modelID := true, "be brief", "m/b"
	e.clk.Advance(time.Second)
	changed, err := e.s.UpdateConversation(e.ctx, ann.ID, c.ID, model.ConversationChange{Title: &title, Pinned: &pinned,
		SystemPrompt: &prompt, Model: &modelID})
	if err != nil || changed.Title != title || !changed.Pinned || changed.SystemPrompt != prompt || changed.Model != modelID ||
		!changed.UpdatedAt.After(got.UpdatedAt) {
		t.Fatalf("update: %+v, %v", changed, err)
	}
	if err := e.s.DeleteConversation(e.ctx, ann.ID, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.s.Conversation(e.ctx, ann.ID, c.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("read after delete: %v", err)
	}
	if _, err := e.s.UpdateConversation(e.ctx, ann.ID, uuid.Must(uuid.NewV7()), model.ConversationChange{Title: &title}); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("update of an unknown conversation: %v", err)
	}
}

func messagesReplace(t *testing.T, e *env) {
	u := e.user("ann@example.com", model.RoleUser)
	c := e.conversation(u, "t")
	if err := e.s.ReplaceMessages(e.ctx, u.ID, c.ID, 0, 0, exchange("q1", "a1"), ""); err != nil {
		t.Fatal(err)
	}
	if err := e.s.ReplaceMessages(e.ctx, u.ID, c.ID, 2, 2, exchange("q2", "a2"), ""); err != nil {
		t.Fatal(err)
	}
	// Regenerate the last answer: replace from seq 3.
	cut := []model.Message{{Role: "assistant", Content: "a2, but shorter", CutShort: true}}
	if err := e.s.ReplaceMessages(e.ctx, u.ID, c.ID, 4, 3, cut, ""); err != nil {
		t.Fatal(err)
	}
	// Edit the first question: everything after it goes.
	if err := e.s.ReplaceMessages(e.ctx, u.ID, c.ID, 4, 0, exchange("q1 edited", "a1'"), ""); err != nil {
		t.Fatal(err)
	}
	got, msgs, _ := e.s.Conversation(e.ctx, u.ID, c.ID)
	if len(msgs) != 2 || msgs[0].Content != "q1 edited" || msgs[1].Content != "a1'" || got.Title != "t" {
		t.Fatalf("after the edit: %+v", msgs)
	}
	// A writer that read 4 messages when there are 2 is refused, and so is
	// one replacing past the end.
	if err := e.s.ReplaceMessages(e.ctx, u.ID, c.ID, 4, 4, exchange("late", "late"), ""); !errors.Is(err, model.ErrConversationChanged) {
		t.Fatalf("a stale count: %v, want ErrConversationChanged", err)
	}
	if err := e.s.ReplaceMessages(e.ctx, u.ID, c.ID, 2, 3, exchange("gap", "gap"), ""); !errors.Is(err, model.ErrConversationChanged) {
		t.Fatalf("a gap: %v, want ErrConversationChanged", err)
	}
	// The cut-short flag is kept.
	if err := e.s.ReplaceMessages(e.ctx, u.ID, c.ID, 2, 1, cut, ""); err != nil {
		t.Fatal(err)
	}
	if _, msgs, _ = e.s.Conversation(e.ctx, u.ID, c.ID); !msgs[1].CutShort || msgs[0].CutShort {
		t.Fatalf("cut-short flags %+v", msgs)
	}
}

func concurrentSends(t *testing.T, e *env) {
	u := e.user("ann@example.com", model.RoleUser)
	c := e.conversation(u, "t")
	var ok atomic.Int32
	concurrently(8, func(i int) {
		err := e.s.ReplaceMessages(e.ctx, u.ID, c.ID, 0, 0, exchange(fmt.Sprintf("q%d", i), "a"), "")
		switch {
		case err == nil:
			ok.Add(1)
		case errors.Is(err, model.ErrConversationChanged):
		default:
			t.Errorf("send %d: %v", i, err)
		}
	})
	_, msgs, _ := e.s.Conversation(e.ctx, u.ID, c.ID)
	if ok.Load() != 1 || len(msgs) != 2 {
		t.Fatalf("%d sends succeeded leaving %d messages; want 1 and 2", ok.Load(), len(msgs))
	}
}

func conversationsList(t *testing.T, e *env) {
	u := e.user("ann@example.com", model.RoleUser)
	var made []model.Conversation
	for i := range 5 {
		c := e.conversation(u, fmt.Sprintf("Topic %d", i))
		e.clk.Advance(time.Second)
		made = append(made, c)
	}
	if err := e.s.ReplaceMessages(e.ctx, u.ID, made[1].ID, 0, 0, exchange("What about DUCKS?", "quack"), ""); err != nil {
		t.Fatal(err)
	}
	pin := true
	if _, err := e.s.UpdateConversation(e.ctx, u.ID, made[3].ID, model.ConversationChange{Pinned: &pin}); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Second)
	// Order: pinned (3), then by last update: 1 (messages), 4, 2, 0.
	page, err := e.s.ListConversations(e.ctx, model.ConversationFilter{UserID: u.ID, Limit: 10})
	if err != nil || page.Total != 5 {
		t.Fatalf("list: %+v, %v", page, err)
	}
	var order []uuid.UUID
	for _, c := range page.Items {
		order = append(order, c.ID)
	}
	want := []uuid.UUID{made[3].ID, made[1].ID, made[4].ID, made[2].ID, made[0].ID}
	if fmt.Sprint(order) != fmt.Sprint(want) || page.Items[1].MessageCount != 2 || page.Items[0].MessageCount != 0 {
		t.Fatalf("order %v, want %v (counts %d %d)", order, want, page.Items[1].MessageCount, page.Items[0].MessageCount)
	}
	if page, _ := e.s.ListConversations(e.ctx, model.ConversationFilter{UserID: u.ID, Limit: 2, Offset: 4}); len(page.Items) != 1 || page.Total != 5 {
		t.Fatalf("last page %+v", page)
	}
	for q, n := range map[string]int{"ducks": 1, "QUACK": 1, "topic 2": 1, "topic": 5, "%": 0, "nothing": 0} {
		page, err := e.s.ListConversations(e.ctx, model.ConversationFilter{UserID: u.ID, Query: q, Limit: 10})
		if err != nil || page.Total != n || len(page.Items) != n {
			t.Fatalf("search %q: %d (%v), want %d", q, page.Total, err, n)
		}
	}
	if page, _ := e.s.ListConversations(e.ctx, model.ConversationFilter{UserID: u.ID, Query: "ducks", Limit: 10}); page.Items[0].ID != made[1].ID {
		t.Fatalf("search by message text found %+v", page.Items)
	}
}

func imagesKept(t *testing.T, e *env) {
	ann, bob := e.user("ann@example.com", model.RoleUser), e.user("bob@example.com", model.RoleUser)
	var ids []uuid.UUID
	for i := range 3 {
		img := model.StoredImage{ID: uuid.Must(uuid.NewV7()), UserID: ann.ID, Prompt: fmt.Sprintf("duck %d", i), Model: "m/img",
			MediaType: "image/png", Content: bytes.Repeat([]byte{byte(i)}, 100*(i+1)), SHA256: fmt.Sprintf("sha-%d", i), CreatedAt: e.clk.Now()}
		img.Bytes = int64(len(img.Content))
		if err := e.s.SaveImages(e.ctx, []model.StoredImage{img}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, img.ID)
		e.clk.Advance(time.Second)
	}
	list, total, err := e.s.Images(e.ctx, ann.ID, 2, 0)
	if err != nil || total != 3 || len(list) != 2 || list[0].ID != ids[2] || list[0].Content != nil || list[0].Bytes != 300 || list[0].Prompt != "duck 2" {
		t.Fatalf("list: %+v (%d), %v", list, total, err)
	}
	if n, err := e.s.ImageBytes(e.ctx, ann.ID); err != nil || n != 600 {
		t.Fatalf("bytes %d, %v", n, err)
	}
	got, err := e.s.Image(e.ctx, ids[1])
	if err != nil || !bytes.Equal(got.Content, bytes.Repeat([]byte{1}, 200)) || got.UserID != ann.ID || got.MediaType != "image/png" {
		t.Fatalf("image %+v, %v", got.ID, err)
	}
	if err := e.s.DeleteImage(e.ctx, bob.ID, ids[1]); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("delete by another user: %v, want ErrNotFound", err)
	}
	if err := e.s.DeleteImage(e.ctx, ann.ID, ids[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Image(e.ctx, ids[1]); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("deleted image: %v", err)
	}
	if n, _ := e.s.ImageBytes(e.ctx, ann.ID); n != 400 {
		t.Fatalf("bytes after delete %d", n)
	}
	if _, n, _ := e.s.Images(e.ctx, bob.ID, 10, 0); n != 0 {
		t.Fatalf("another user lists %d images", n)
	}
}

func deleteUserWorkspace(t *testing.T, e *env) {
	e.user("root@example.com", model.RoleAdmin)
	gone, kept := e.user("gone@example.com", model.RoleUser), e.user("kept@example.com", model.RoleUser)
	for _, u := range []model.User{gone, kept} {
		c := e.conversation(u, "c")
		if err := e.s.ReplaceMessages(e.ctx, u.ID, c.ID, 0, 0, exchange("q", "a"), ""); err != nil {
			t.Fatal(err)
		}
		img := model.StoredImage{ID: uuid.Must(uuid.NewV7()), UserID: u.ID, MediaType: "image/png", Content: []byte("png"), Bytes: 3, CreatedAt: e.clk.Now()}
		if err := e.s.SaveImages(e.ctx, []model.StoredImage{img}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.s.DeleteUser(e.ctx, gone.ID, nil); err != nil {
		t.Fatal(err)
	}
	w, err := e.s.WorkspaceCounts(e.ctx)
	if err != nil || w.Conversations != 1 || w.Messages != 2 || w.Images != 1 || w.ImageBytes != 3 {
		t.Fatalf("after deleting a user: %+v, %v", w, err)
	}
	if page, _ := e.s.ListConversations(e.ctx, model.ConversationFilter{UserID: kept.ID, Limit: 10}); page.Total != 1 {
		t.Fatal("the other user's conversation went too")
	}
}
