package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/duckgate/duckgate/backend/internal/model"
)

const conversationColumns = "c.id, c.user_id, c.title, c.pinned, c.model, c.system_prompt, c.created_at, c.updated_at"

func scanConversation(r pgx.Row, extra ...any) (model.Conversation, error) {
	var c model.Conversation
	err := r.Scan(append([]any{&c.ID, &c.UserID, &c.Title, &c.Pinned, &c.Model, &c.SystemPrompt, &c.CreatedAt, &c.UpdatedAt}, extra...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return model.Conversation{}, model.ErrNotFound
	}
	c.CreatedAt, c.UpdatedAt = utc(c.CreatedAt), utc(c.UpdatedAt)
	return c, err
}

// CreateConversation stores a new, empty conversation.
func (s *Store) CreateConversation(ctx context.Context, c model.Conversation) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO conversations (id, user_id, title, pinned, model, system_prompt, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, c.ID, c.UserID, clean(c.Title), c.Pinned, clean(c.Model), clean(c.SystemPrompt),
		micro(c.CreatedAt), micro(c.UpdatedAt)); err != nil {
		return fmt.Errorf("store: insert conversation: %w", err)
	}
	return nil
}

// Conversation returns one of user's conversations with its messages in
// order; ErrNotFound when it is not theirs. Both are read in one
// repeatable-read transaction, so the count matches the messages even
// while a send on another replica replaces them.
func (s *Store) Conversation(ctx context.Context, user, id uuid.UUID) (model.Conversation, []model.Message, error) {
	var (
		c    model.Conversation
		msgs []model.Message
	)
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		c, err = scanConversation(tx.QueryRow(ctx, "SELECT "+conversationColumns+" FROM conversations c WHERE c.id = $1", id))
		if err == nil && c.UserID != user {
			err = model.ErrNotFound
		}
		if err != nil {
			return wrapNotFound(err, "read conversation")
		}
		rows, err := tx.Query(ctx, `SELECT id, conversation_id, seq, role, content, model, cut_short, created_at
			FROM messages WHERE conversation_id = $1 ORDER BY seq`, id)
		if err != nil {
			return fmt.Errorf("store: read messages: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var m model.Message
			if err := rows.Scan(&m.ID, &m.ConversationID, &m.Seq, &m.Role, &m.Content, &m.Model, &m.CutShort, &m.CreatedAt); err != nil {
				return fmt.Errorf("store: read messages: %w", err)
			}
			m.CreatedAt = utc(m.CreatedAt)
			msgs = append(msgs, m)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: read messages: %w", err)
		}
		return nil
	})
	if err != nil {
		return model.Conversation{}, nil, err
	}
	c.MessageCount = len(msgs)
	return c, msgs, nil
}

// ListConversations pages through a user's conversations, pinned first,
// then the most recently updated; Query matches titles and message text
// literally and case-insensitively (strpos, not LIKE: "%" is a character).
func (s *Store) ListConversations(ctx context.Context, f model.ConversationFilter) (model.ConversationPage, error) {
	where, args := " WHERE c.user_id = $1", []any{f.UserID}
	if q := clean(strings.ToLower(f.Query)); q != "" {
		args = append(args, q)
		where += ` AND (strpos(lower(c.title), $2) > 0 OR EXISTS (
			SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND strpos(lower(m.content), $2) > 0))`
	}
	var page model.ConversationPage
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM conversations c"+where, args...).Scan(&page.Total); err != nil {
		return model.ConversationPage{}, fmt.Errorf("store: count conversations: %w", err)
	}
	rows, err := s.pool.Query(ctx, fmt.Sprintf(`SELECT %s, (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)
		FROM conversations c%s ORDER BY c.pinned DESC, c.updated_at DESC, c.id DESC LIMIT $%d OFFSET $%d`,
		conversationColumns, where, len(args)+1, len(args)+2), append(args, f.Limit, f.Offset)...)
	if err != nil {
		return model.ConversationPage{}, fmt.Errorf("store: list conversations: %w", err)
	}
	defer rows.Close()
	page.Items = []model.Conversation{}
	for rows.Next() {
		var count int
		c, err := scanConversation(rows, &count)
		if err != nil {
			return model.ConversationPage{}, fmt.Errorf("store: list conversations: %w", err)
		}
		c.MessageCount = count
		page.Items = append(page.Items, c)
	}
	return page, rows.Err()
}

// lockConversation reads one of user's conversations for update (the row
// stays locked until commit); ErrNotFound when it is not theirs.
func (t *tx) lockConversation(user, id uuid.UUID) (model.Conversation, error) {
	c, err := scanConversation(t.queryRow("SELECT "+conversationColumns+" FROM conversations c WHERE c.id = $1 FOR UPDATE", id))
	if err == nil && c.UserID != user {
		err = model.ErrNotFound
	}
	if err != nil {
		return model.Conversation{}, wrapNotFound(err, "read conversation")
	}
	return c, nil
}

// UpdateConversation applies change to one of user's conversations.
func (s *Store) UpdateConversation(ctx context.Context, user, id uuid.UUID, change model.ConversationChange) (model.Conversation, error) {
	var out model.Conversation
	err := s.inTx(ctx, func(t *tx) error {
		c, err := t.lockConversation(user, id)
		if err != nil {
			return err
		}
		if change.Title != nil {
			c.Title = clean(*change.Title)
		}
		if change.Pinned != nil {
			c.Pinned = *change.Pinned
		}
		if change.Model != nil {
			c.Model = clean(*change.Model)
		}
		if change.SystemPrompt != nil {
			c.SystemPrompt = clean(*change.SystemPrompt)
		}
		c.UpdatedAt = micro(s.now())
		if _, err := t.exec(`UPDATE conversations SET title = $1, pinned = $2, model = $3, system_prompt = $4, updated_at = $5
			WHERE id = $6`, c.Title, c.Pinned, c.Model, c.SystemPrompt, c.UpdatedAt, id); err != nil {
			return fmt.Errorf("store: update conversation: %w", err)
		}
		out = c
		return nil
	})
	return out, err
}

// DeleteConversation deletes one of user's conversations and its messages.
func (s *Store) DeleteConversation(ctx context.Context, user, id uuid.UUID) error {
	return s.inTx(ctx, func(t *tx) error {
		if _, err := t.lockConversation(user, id); err != nil {
			return err
		}
		if _, err := t.exec("DELETE FROM messages WHERE conversation_id = $1", id); err != nil {
			return fmt.Errorf("store: delete messages: %w", err)
		}
		if _, err := t.exec("DELETE FROM conversations WHERE id = $1", id); err != nil {
			return fmt.Errorf("store: delete conversation: %w", err)
		}
		return nil
	})
}

// ReplaceMessages deletes the messages of one of user's conversations from
// seq from on, and appends msgs numbered from there, in one transaction.
// The conversation must hold exactly count messages (what the caller
// read): otherwise something else changed it meanwhile and
// ErrConversationChanged refuses the write. The conversation's row is
// locked first, so sends on any replicas take turns and each counts what
// the previous one committed. An empty title is set to title.
func (s *Store) ReplaceMessages(ctx context.Context, user, id uuid.UUID, count, from int, msgs []model.Message, title string) error {
	now := micro(s.now())
	return s.inTx(ctx, func(t *tx) error {
		c, err := t.lockConversation(user, id)
		if err != nil {
			return err
		}
		var have int
		if err := t.queryRow("SELECT count(*) FROM messages WHERE conversation_id = $1", id).Scan(&have); err != nil {
			return fmt.Errorf("store: count messages: %w", err)
		}
		if have != count || from > have || from < 0 {
			return model.ErrConversationChanged
		}
		if _, err := t.exec("DELETE FROM messages WHERE conversation_id = $1 AND seq >= $2", id, from); err != nil {
			return fmt.Errorf("store: delete messages: %w", err)
		}
		rows := make([][]any, len(msgs))
		for i, m := range msgs {
			if m.ID == uuid.Nil {
				m.ID = uuid.Must(uuid.NewV7())
			}
			if m.CreatedAt.IsZero() {
				m.CreatedAt = now
			}
			rows[i] = []any{m.ID, id, clampInt32(from + i), clean(m.Role), clean(m.Content), clean(m.Model), m.CutShort, micro(m.CreatedAt)}
		}
		if len(rows) > 0 {
			if _, err := t.CopyFrom(t.ctx, pgx.Identifier{"messages"},
				[]string{"id", "conversation_id", "seq", "role", "content", "model", "cut_short", "created_at"}, pgx.CopyFromRows(rows)); err != nil {
				return fmt.Errorf("store: insert messages: %w", err)
			}
		}
		if c.Title == "" {
			c.Title = clean(title)
		}
		if _, err := t.exec("UPDATE conversations SET title = $1, updated_at = $2 WHERE id = $3", c.Title, now, id); err != nil {
			return fmt.Errorf("store: touch conversation: %w", err)
		}
		return nil
	})
}

// WorkspaceCounts counts conversations, messages, images and image bytes,
// for the admin stats (admins see counts, never contents).
func (s *Store) WorkspaceCounts(ctx context.Context) (model.WorkspaceCounts, error) {
	var w model.WorkspaceCounts
	err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages),
		(SELECT count(*) FROM images), (SELECT coalesce(sum(bytes), 0)::bigint FROM images)`).
		Scan(&w.Conversations, &w.Messages, &w.Images, &w.ImageBytes)
	if err != nil {
		return model.WorkspaceCounts{}, fmt.Errorf("store: workspace counts: %w", err)
	}
	return w, nil
}

// SaveImages stores generated images, all or none.
func (s *Store) SaveImages(ctx context.Context, imgs []model.StoredImage) error {
	if len(imgs) == 0 {
		return nil
	}
	rows := make([][]any, len(imgs))
	for i, img := range imgs {
		rows[i] = []any{img.ID, img.UserID, clean(img.Prompt), clean(img.Model), clean(img.MediaType), img.Bytes, clean(img.SHA256),
			img.Content, micro(img.CreatedAt)}
	}
	return s.inTx(ctx, func(t *tx) error {
		if _, err := t.CopyFrom(t.ctx, pgx.Identifier{"images"},
			[]string{"id", "user_id", "prompt", "model", "media_type", "bytes", "sha256", "content", "created_at"}, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("store: insert images: %w", err)
		}
		return nil
	})
}

const imageColumns = "id, user_id, prompt, model, media_type, bytes, sha256, created_at"

func scanImage(r pgx.Row, content *[]byte) (model.StoredImage, error) {
	var img model.StoredImage
	dest := []any{&img.ID, &img.UserID, &img.Prompt, &img.Model, &img.MediaType, &img.Bytes, &img.SHA256, &img.CreatedAt}
	if content != nil {
		dest = append(dest, content)
	}
	if err := r.Scan(dest...); err != nil {
		return model.StoredImage{}, err
	}
	img.CreatedAt = utc(img.CreatedAt)
	return img, nil
}

// Images pages through a user's images, newest first, without their bytes.
func (s *Store) Images(ctx context.Context, user uuid.UUID, limit, offset int) ([]model.StoredImage, int, error) {
	var total int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM images WHERE user_id = $1", user).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count images: %w", err)
	}
	rows, err := s.pool.Query(ctx, "SELECT "+imageColumns+" FROM images WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
		user, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list images: %w", err)
	}
	defer rows.Close()
	out := []model.StoredImage{}
	for rows.Next() {
		img, err := scanImage(rows, nil)
		if err != nil {
			return nil, 0, fmt.Errorf("store: list images: %w", err)
		}
		out = append(out, img)
	}
	return out, total, rows.Err()
}

// Image returns one image with its bytes; ErrNotFound for an unknown id.
func (s *Store) Image(ctx context.Context, id uuid.UUID) (model.StoredImage, error) {
	var content []byte
	img, err := scanImage(s.pool.QueryRow(ctx, "SELECT "+imageColumns+", content FROM images WHERE id = $1", id), &content)
	if err != nil {
		return model.StoredImage{}, wrapNotFound(err, "read image")
	}
	img.Content = content
	return img, nil
}

// DeleteImage deletes one of user's images; ErrNotFound when not theirs.
func (s *Store) DeleteImage(ctx context.Context, user, id uuid.UUID) error {
	tag, err := s.pool.Exec(ctx, "DELETE FROM images WHERE id = $1 AND user_id = $2", id, user)
	if err != nil {
		return fmt.Errorf("store: delete image: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return model.ErrNotFound
	}
	return nil
}

// ImageBytes is how many bytes of images user keeps, summed from the table
// (the images every replica stored), not counted by any one process.
func (s *Store) ImageBytes(ctx context.Context, user uuid.UUID) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, "SELECT coalesce(sum(bytes), 0)::bigint FROM images WHERE user_id = $1", user).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: image bytes: %w", err)
	}
	return n, nil
}

// wrapNotFound passes ErrNotFound (and pgx.ErrNoRows as ErrNotFound) on
// and gives other errors context.
func wrapNotFound(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) || errors.Is(err, model.ErrNotFound) {
		return model.ErrNotFound
	}
	return fmt.Errorf("store: %s: %w", what, err)
}
