package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
)

// TestMoveFromDuckDBToPostgreSQL is the move the README describes, with the
// real binaries: a DuckDB backend that has users, sessions (one rotated),
// audit entries, usage, a video job, a lock-out, a conversation, a kept
// image, an API key, a budget and a password-reset link is stopped,
// exported (backend db export), imported into a new PostgreSQL database
// (backend db import), and two replicas start on it with the same signing
// key. Everything is there, and the sessions go on: an access token issued
// by DuckDB is accepted, its refresh token refreshes, the rotated one is
// still caught as reuse; the key authenticates and the link sets the
// password.
func TestMoveFromDuckDBToPostgreSQL(t *testing.T) {
	fake := StartFake(t)
	dir := t.TempDir()
	ctx := context.Background()
	duck := StartBackend(t, dir, append(aiEnv(fake), "LOGIN_MAX_FAILURES=2")...)
	c := client.New(duck.URL)
	if _, err := c.Register(ctx, api.RegisterRequest{Email: "mover@example.com", Password: "mover-password"}); err != nil {
		t.Fatal(err)
	}
	first, err := c.Login(ctx, api.LoginRequest{Email: "mover@example.com", Password: "mover-password"})
	if err != nil {
		t.Fatal(err)
	}
	current, err := c.Refresh(ctx, first.RefreshToken) // first.RefreshToken is rotated now
	if err != nil {
		t.Fatal(err)
	}
	user := c.WithToken(current.AccessToken)
	if _, err := user.Chat(ctx, api.ChatRequest{Messages: []api.ChatMessage{{Role: "user", Content: "before the move"}}}); err != nil {
		t.Fatal(err)
	}
	job, err := user.GenerateVideo(ctx, api.VideoRequest{Prompt: "a duck moving house"})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := c.Login(ctx, api.LoginRequest{Email: "victim@example.com", Password: "guessing"}); !client.IsStatus(err, http.StatusUnauthorized) {
			t.Fatalf("a wrong password: %v", err)
		}
	}
	conv, err := user.CreateConversation(ctx, api.NewConversationRequest{Title: "moving", SystemPrompt: "be brief"})
	if err != nil {
		t.Fatal(err)
	}
	drain(t, func() (*client.ChatStream, error) {
		return user.SendMessage(ctx, conv.ID, api.SendMessageRequest{Content: "where to?"})
	})
	convBefore, err := user.Conversation(ctx, conv.ID)
	if err != nil || len(convBefore.Messages) != 2 {
		t.Fatalf("conversation before the move: %+v %v", convBefore, err)
	}
	if _, err := user.GenerateImage(ctx, api.ImageRequest{Prompt: "a duck with boxes"}); err != nil {
		t.Fatal(err)
	}
	imagesBefore, err := user.Images(ctx, 10, 0)
	if err != nil || len(imagesBefore.Items) != 1 {
		t.Fatalf("kept images before the move: %+v %v", imagesBefore, err)
	}
	imageBefore := readAll(t, func() (io.ReadCloser, error) { return user.ImageContent(ctx, imagesBefore.Items[0].ID) })
	key, err := user.CreateAPIKey(ctx, api.APIKeyRequest{Name: "mover's script", Scopes: []string{api.ScopeAI, api.ScopeRead}})
	if err != nil {
		t.Fatal(err)
	}
	admin := signIn(t, c, AdminEmail, AdminPassword)
	me, err := user.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	budget := 42.5
	if _, err := admin.SetBudget(ctx, me.ID, &budget); err != nil {
		t.Fatal(err)
	}
	resetLink, err := admin.PasswordResetLink(ctx, me.ID)
	if err != nil || resetLink.URL == "" {
		t.Fatalf("reset link: %+v %v", resetLink, err)
	}
	auditBefore, err := admin.Audit(ctx, client.AuditParams{Limit: 200})
	if err != nil || auditBefore.Total < 3 {
		t.Fatalf("audit before the move: %+v %v", auditBefore, err)
	}
	usageBefore, err := admin.Usage(ctx, client.UsageParams{Days: 1, GroupBy: "user"})
	if err != nil || len(usageBefore.Rows) == 0 {
		t.Fatalf("usage before the move: %+v %v", usageBefore, err)
	}
	duck.Stop(t)

	exported := filepath.Join(t.TempDir(), "export")
	database := PostgresDatabase(t)
	backend := func(env []string, args ...string) string {
		cmd := exec.Command(Binary(t, "backend"), args...)
		cmd.Dir = dir
		cmd.Env = append(minimalEnv(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("backend %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	duckEnv := BackendEnv(dir, FreeAddr(t))
	if out := backend(duckEnv, "db", "export", "--out", exported); !strings.Contains(out, "2 users") {
		t.Fatalf("export: %s", out)
	}
	if out := backend(append(duckEnv, "DATABASE_URL="+database), "db", "import", "--from", exported); !strings.Contains(out, "into the postgres database") {
		t.Fatalf("import: %s", out)
	}

	bs := StartReplicas(t, 2, database, dir, append(aiEnv(fake), "LOGIN_MAX_FAILURES=2")...)
	a, b := client.New(bs[0].URL), client.New(bs[1].URL)
	if me, err := b.WithToken(current.AccessToken).Me(ctx); err != nil || me.Email != "mover@example.com" {
		t.Fatalf("an access token from DuckDB on PostgreSQL: %+v %v", me, err)
	}
	next, err := a.Refresh(ctx, current.RefreshToken)
	if err != nil {
		t.Fatalf("refreshing a DuckDB session on PostgreSQL: %v", err)
	}
	if _, err := b.Refresh(ctx, first.RefreshToken); !client.IsStatus(err, http.StatusUnauthorized) {
		t.Fatalf("the token rotated on DuckDB, on PostgreSQL: %v", err)
	}
	if _, err := b.WithToken(next.AccessToken).Me(ctx); !client.IsStatus(err, http.StatusUnauthorized) {
		t.Fatal("the reuse of a rotated token did not end the session")
	}
	if _, err := a.Login(ctx, api.LoginRequest{Email: "mover@example.com", Password: "mover-password"}); err != nil {
		t.Fatalf("signing in after the move: %v", err)
	}

	adminPG := signIn(t, b, AdminEmail, AdminPassword)
	auditAfter, err := adminPG.Audit(ctx, client.AuditParams{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	moved := map[string]api.AuditEntry{}
	for _, e := range auditAfter.Items {
		moved[e.ID] = e
	}
	named := 0
	for _, e := range auditBefore.Items {
		if got, ok := moved[e.ID]; !ok || got.ActorEmail != e.ActorEmail || got.TargetEmail != e.TargetEmail {
			t.Fatalf("audit entry %+v did not move as it was: %+v", e, got)
		}
		if e.TargetEmail == "mover@example.com" {
			named++
		}
	}
	if named == 0 {
		t.Fatal("no audit entry names the mover: the emails were not checked")
	}
	usageAfter, err := adminPG.Usage(ctx, client.UsageParams{Days: 1, GroupBy: "user"})
	if err != nil || len(usageAfter.Rows) == 0 || usageAfter.Rows[0].Requests < usageBefore.Rows[0].Requests {
		t.Fatalf("usage after the move: %+v, before %+v (%v)", usageAfter.Rows, usageBefore.Rows, err)
	}
	mover := signIn(t, a, "mover@example.com", "mover-password")
	jobs, err := mover.VideoJobs(ctx, 10, 0)
	if err != nil || len(jobs.Items) != 1 || jobs.Items[0].ID != job.ID {
		t.Fatalf("video jobs after the move: %+v %v", jobs, err)
	}
	locks, err := adminPG.Lockouts(ctx)
	if err != nil || len(locks.Items) != 1 || locks.Items[0].Email != "victim@example.com" {
		t.Fatalf("lock-outs after the move: %+v %v", locks, err)
	}
	if h, err := adminPG.DBHealth(ctx); err != nil || h.Engine != "postgres" {
		t.Fatalf("db health: %+v %v", h, err)
	}

	// The workspace: the conversation with its messages, the image with
	// its bytes, on either replica.
	convAfter, err := client.New(bs[1].URL).WithToken(mover.Token()).Conversation(ctx, conv.ID)
	if err != nil || convAfter.Title != "moving" || convAfter.SystemPrompt != "be brief" || len(convAfter.Messages) != 2 ||
		convAfter.Messages[0].Content != convBefore.Messages[0].Content || convAfter.Messages[1].Content != convBefore.Messages[1].Content {
		t.Fatalf("conversation after the move: %+v %v", convAfter, err)
	}
	imagesAfter, err := mover.Images(ctx, 10, 0)
	if err != nil || len(imagesAfter.Items) != 1 || imagesAfter.Items[0].ID != imagesBefore.Items[0].ID || imagesAfter.UsedBytes != imagesBefore.UsedBytes {
		t.Fatalf("kept images after the move: %+v %v", imagesAfter, err)
	}
	if got := readAll(t, func() (io.ReadCloser, error) { return mover.ImageContent(ctx, imagesAfter.Items[0].ID) }); !bytes.Equal(got, imageBefore) {
		t.Fatalf("the image's bytes changed in the move: %d bytes, had %d", len(got), len(imageBefore))
	}
	// The key made on DuckDB authenticates on both replicas; the budget
	// holds.
	for _, r := range bs {
		if me, err := client.New(r.URL).WithAPIKey(key.Secret).Me(ctx); err != nil || me.Email != "mover@example.com" {
			t.Fatalf("the API key after the move: %+v %v", me, err)
		}
	}
	usage, err := client.New(bs[0].URL).WithAPIKey(key.Secret).MyUsage(ctx, time.Time{}, time.Time{})
	if err != nil || usage.Budget.LimitUSD == nil || *usage.Budget.LimitUSD != budget {
		t.Fatalf("the budget after the move: %+v %v", usage, err)
	}
	// The reset link made on DuckDB sets the password on PostgreSQL, once.
	link, err := url.Parse(resetLink.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.ResetPassword(ctx, link.Query().Get("token"), "moved-password"); err != nil {
		t.Fatalf("the reset link after the move: %v", err)
	}
	if err := b.ResetPassword(ctx, link.Query().Get("token"), "again-password"); err == nil {
		t.Fatal("the reset link worked twice")
	}
	signIn(t, b, "mover@example.com", "moved-password")
}

// drain reads a chat stream to its end.
func drain(t *testing.T, open func() (*client.ChatStream, error)) {
	t.Helper()
	stream, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	for {
		if _, err := stream.Next(); errors.Is(err, io.EOF) {
			return
		} else if err != nil {
			t.Fatal(err)
		}
	}
}

func readAll(t *testing.T, open func() (io.ReadCloser, error)) []byte {
	t.Helper()
	body, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
