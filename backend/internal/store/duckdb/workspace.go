package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
)

const conversationColumns = "c.id, c.user_id, c.title, c.pinned, c.model, c.system_prompt, c.created_at, c.updated_at"

func scanConversation(r rowScanner, extra ...any) (model.Conversation, error) {
	var c model.Conversation
	err := r.Scan(append([]any{&c.ID, &c.UserID, &c.Title, &c.Pinned, &c.Model, &c.SystemPrompt, &c.CreatedAt, &c.UpdatedAt}, extra...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return model.Conversation{}, model.ErrNotFound
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, err
}

// CreateConversation stores a new, empty conversation.
func (s *Store) CreateConversation(ctx context.Context, c model.Conversation) error {
	return s.write(ctx, func(t *Tx) error {
		if _, err := t.conn.ExecContext(t.ctx, `INSERT INTO conversations (id, user_id, title, pinned, model, system_prompt, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, c.ID, c.UserID, c.Title, c.Pinned, c.Model, c.SystemPrompt, c.CreatedAt, c.UpdatedAt); err != nil {
			return fmt.Errorf("store: insert conversation: %w", err)
		}
		return nil
	})
}

// Conversation returns one of user's conversations with its messages in
// order; ErrNotFound when it is not theirs.
func (s *Store) Conversation(ctx context.Context, user, id uuid.UUID) (model.Conversation, []model.Message, error) {
	c, err := scanConversation(s.db.QueryRowContext(ctx, "SELECT "+conversationColumns+" FROM conversations c WHERE c.id = ?", id))
	if err == nil && c.UserID != user {
		err = model.ErrNotFound
	}
	if err != nil {
		return model.Conversation{}, nil, wrapNotFound(err, "read conversation")
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, conversation_id, seq, role, content, model, cut_short, created_at
		FROM messages WHERE conversation_id = ? ORDER BY seq`, id)
	if err != nil {
		return model.Conversation{}, nil, fmt.Errorf("store: read messages: %w", err)
	}
	defer rows.Close()
	var msgs []model.Message
	for rows.Next() {
		var m model.Message
		if err := rows.Scan(&m.ID, &m.ConversationID, &m.Seq, &m.Role, &m.Content, &m.Model, &m.CutShort, &m.CreatedAt); err != nil {
			return model.Conversation{}, nil, fmt.Errorf("store: read messages: %w", err)
		}
		m.CreatedAt = m.CreatedAt.UTC()
		msgs = append(msgs, m)
	}
	c.MessageCount = len(msgs)
	return c, msgs, rows.Err()
}

// ListConversations pages through a user's conversations, pinned first,
// then the most recently updated; Query matches titles and message text
// literally and case-insensitively.
func (s *Store) ListConversations(ctx context.Context, f model.ConversationFilter) (model.ConversationPage, error) {
	where, args := " WHERE c.user_id = ?", []any{f.UserID}
	if q := strings.ToLower(f.Query); q != "" {
		where += ` AND (contains(lower(c.title), ?) OR EXISTS (
			SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND contains(lower(m.content), ?)))`
		args = append(args, q, q)
	}
	var page model.ConversationPage
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM conversations c"+where, args...).Scan(&page.Total); err != nil {
		return model.ConversationPage{}, fmt.Errorf("store: count conversations: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+conversationColumns+`,
			(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)
		FROM conversations c`+where+" ORDER BY c.pinned DESC, c.updated_at DESC, c.id DESC LIMIT ? OFFSET ?",
		append(args, f.Limit, f.Offset)...)
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

// UpdateConversation applies change to one of user's conversations.
func (s *Store) UpdateConversation(ctx context.Context, user, id uuid.UUID, change model.ConversationChange) (model.Conversation, error) {
	var out model.Conversation
	err := s.write(ctx, func(t *Tx) error {
		c, err := t.ownConversation(user, id)
		if err != nil {
			return err
		}
		if change.Title != nil {
			c.Title = *change.Title
		}
		if change.Pinned != nil {
			c.Pinned = *change.Pinned
		}
		if change.Model != nil {
			c.Model = *change.Model
		}
		if change.SystemPrompt != nil {
			c.SystemPrompt = *change.SystemPrompt
		}
		c.UpdatedAt = s.now().Truncate(time.Microsecond)
		if _, err := t.conn.ExecContext(t.ctx, `UPDATE conversations SET title = ?, pinned = ?, model = ?, system_prompt = ?,
			updated_at = ? WHERE id = ?`, c.Title, c.Pinned, c.Model, c.SystemPrompt, c.UpdatedAt, id); err != nil {
			return fmt.Errorf("store: update conversation: %w", err)
		}
		out = c
		return nil
	})
	return out, err
}

// DeleteConversation deletes one of user's conversations and its messages.
func (s *Store) DeleteConversation(ctx context.Context, user, id uuid.UUID) error {
	return s.write(ctx, func(t *Tx) error {
		if _, err := t.ownConversation(user, id); err != nil {
			return err
		}
		return t.deleteConversations("id", id)
	})
}

// ReplaceMessages deletes the messages of one of user's conversations from
// seq from on, and appends msgs numbered from there, in one write. The
// conversation must hold exactly count messages (what the caller read):
// otherwise something else changed it meanwhile and ErrConversationChanged
// refuses the write, so two sends cannot number over each other. An empty
// title is set to title.
func (s *Store) ReplaceMessages(ctx context.Context, user, id uuid.UUID, count, from int, msgs []model.Message, title string) error {
	now := s.now().Truncate(time.Microsecond)
	return s.write(ctx, func(t *Tx) error {
		c, err := t.ownConversation(user, id)
		if err != nil {
			return err
		}
		var have int
		if err := t.conn.QueryRowContext(t.ctx, "SELECT count(*) FROM messages WHERE conversation_id = ?", id).Scan(&have); err != nil {
			return fmt.Errorf("store: count messages: %w", err)
		}
		if have != count || from > have || from < 0 {
			return rule(model.ErrConversationChanged)
		}
		if _, err := t.conn.ExecContext(t.ctx, "DELETE FROM messages WHERE conversation_id = ? AND seq >= ?", id, from); err != nil {
			return fmt.Errorf("store: delete messages: %w", err)
		}
		for i, m := range msgs {
			if m.ID == uuid.Nil {
				m.ID = uuid.Must(uuid.NewV7())
			}
			if m.CreatedAt.IsZero() {
				m.CreatedAt = now
			}
			if _, err := t.conn.ExecContext(t.ctx, `INSERT INTO messages (id, conversation_id, seq, role, content, model, cut_short, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, m.ID, id, from+i, m.Role, m.Content, m.Model, m.CutShort, m.CreatedAt.UTC().Truncate(time.Microsecond)); err != nil {
				return fmt.Errorf("store: insert message: %w", err)
			}
		}
		if c.Title == "" {
			c.Title = title
		}
		if _, err := t.conn.ExecContext(t.ctx, "UPDATE conversations SET title = ?, updated_at = ? WHERE id = ?", c.Title, now, id); err != nil {
			return fmt.Errorf("store: touch conversation: %w", err)
		}
		return nil
	})
}

// WorkspaceCounts counts conversations, messages, images and image bytes,
// for the admin stats (admins see counts, never contents).
func (s *Store) WorkspaceCounts(ctx context.Context) (model.WorkspaceCounts, error) {
	var w model.WorkspaceCounts
	err := s.db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages),
		(SELECT count(*) FROM images), (SELECT coalesce(sum(bytes), 0)::BIGINT FROM images)`).
		Scan(&w.Conversations, &w.Messages, &w.Images, &w.ImageBytes)
	if err != nil {
		return model.WorkspaceCounts{}, fmt.Errorf("store: workspace counts: %w", err)
	}
	return w, nil
}

// ownConversation reads a conversation inside a write; ErrNotFound (as a
// rule outcome) when it is not user's.
func (t *Tx) ownConversation(user, id uuid.UUID) (model.Conversation, error) {
	c, err := scanConversation(t.conn.QueryRowContext(t.ctx, "SELECT "+conversationColumns+" FROM conversations c WHERE c.id = ?", id))
	if err == nil && c.UserID != user {
		err = model.ErrNotFound
	}
	if err != nil {
		return model.Conversation{}, ruleOrFault(err, "read conversation")
	}
	return c, nil
}

// deleteConversations deletes the conversations whose column (id or
// user_id) is value, with their messages.
func (t *Tx) deleteConversations(column string, value uuid.UUID) error {
	if _, err := t.conn.ExecContext(t.ctx, `DELETE FROM messages WHERE conversation_id IN (
		SELECT id FROM conversations WHERE `+column+` = ?)`, value); err != nil {
		return fmt.Errorf("store: delete messages: %w", err)
	}
	if _, err := t.conn.ExecContext(t.ctx, "DELETE FROM conversations WHERE "+column+" = ?", value); err != nil {
		return fmt.Errorf("store: delete conversations: %w", err)
	}
	return nil
}

// SaveImages stores generated images.
func (s *Store) SaveImages(ctx context.Context, imgs []model.StoredImage) error {
	return s.write(ctx, func(t *Tx) error {
		for _, img := range imgs {
			if _, err := t.conn.ExecContext(t.ctx, `INSERT INTO images (id, user_id, prompt, model, media_type, bytes, sha256, content, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, img.ID, img.UserID, img.Prompt, img.Model, img.MediaType, img.Bytes, img.SHA256,
				img.Content, img.CreatedAt.UTC().Truncate(time.Microsecond)); err != nil {
				return fmt.Errorf("store: insert image: %w", err)
			}
		}
		return nil
	})
}

const imageColumns = "id, user_id, prompt, model, media_type, bytes, sha256, created_at"

func scanImage(r rowScanner, content *[]byte) (model.StoredImage, error) {
	var img model.StoredImage
	dest := []any{&img.ID, &img.UserID, &img.Prompt, &img.Model, &img.MediaType, &img.Bytes, &img.SHA256, &img.CreatedAt}
	if content != nil {
		dest = append(dest, content)
	}
	if err := r.Scan(dest...); err != nil {
		return model.StoredImage{}, err
	}
	img.CreatedAt = img.CreatedAt.UTC()
	return img, nil
}

// Images pages through a user's images, newest first, without their bytes.
func (s *Store) Images(ctx context.Context, user uuid.UUID, limit, offset int) ([]model.StoredImage, int, error) {
	var total int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM images WHERE user_id = ?", user).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count images: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+imageColumns+" FROM images WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
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
	img, err := scanImage(s.db.QueryRowContext(ctx, "SELECT "+imageColumns+", content FROM images WHERE id = ?", id), &content)
	if err != nil {
		return model.StoredImage{}, wrapNotFound(err, "read image")
	}
	img.Content = content
	return img, nil
}

// DeleteImage deletes one of user's images; ErrNotFound when not theirs.
func (s *Store) DeleteImage(ctx context.Context, user, id uuid.UUID) error {
	return s.write(ctx, func(t *Tx) error {
		res, err := t.conn.ExecContext(t.ctx, "DELETE FROM images WHERE id = ? AND user_id = ?", id, user)
		if err != nil {
			return fmt.Errorf("store: delete image: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return rule(model.ErrNotFound)
		}
		return nil
	})
}

// ImageBytes is how many bytes of images user keeps.
func (s *Store) ImageBytes(ctx context.Context, user uuid.UUID) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, "SELECT coalesce(sum(bytes), 0)::BIGINT FROM images WHERE user_id = ?", user).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: image bytes: %w", err)
	}
	return n, nil
}

// wrapNotFound passes ErrNotFound (and sql.ErrNoRows as ErrNotFound) on
// and gives other errors context.
func wrapNotFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, model.ErrNotFound) {
		return model.ErrNotFound
	}
	return fmt.Errorf("store: %s: %w", what, err)
}
