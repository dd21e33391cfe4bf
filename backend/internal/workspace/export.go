package workspace

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/shared/api"
)

// Export formats.
const (
	ExportMarkdown = "markdown"
	ExportJSON     = "json"
)

// Export is a conversation as a file to download.
type Export struct {
	ContentType string
	FileName    string
	Body        []byte
}

// Export renders a conversation of the caller as Markdown or JSON (the
// ConversationDetail shape).
func (s *Service) Export(ctx context.Context, user uuid.UUID, rawID, format string) (Export, error) {
	if format == "" {
		format = ExportMarkdown
	}
	if format != ExportMarkdown && format != ExportJSON {
		return Export{}, model.Invalid(model.Field("format", "must be markdown or json"))
	}
	c, msgs, err := s.load(ctx, user, rawID)
	if err != nil {
		return Export{}, err
	}
	name := fileName(c.Title)
	if format == ExportJSON {
		body, err := json.MarshalIndent(toDetail(c, msgs), "", "  ")
		if err != nil {
			return Export{}, fmt.Errorf("workspace: export: %w", err)
		}
		return Export{ContentType: "application/json; charset=utf-8", FileName: name + ".json", Body: append(body, '\n')}, nil
	}
	return Export{ContentType: "text/markdown; charset=utf-8", FileName: name + ".md", Body: []byte(markdown(c, msgs))}, nil
}

// markdown writes the conversation as a readable document: its title, its
// settings, then each turn under a heading.
func markdown(c model.Conversation, msgs []model.Message) string {
	var b strings.Builder
	title := c.Title
	if title == "" {
		title = "Conversation"
	}
	fmt.Fprintf(&b, "# %s\n\n", title)
	fmt.Fprintf(&b, "_Started %s", c.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"))
	if c.Model != "" {
		fmt.Fprintf(&b, " · model %s", c.Model)
	}
	b.WriteString("_\n\n")
	if c.SystemPrompt != "" {
		fmt.Fprintf(&b, "**System prompt**\n\n%s\n\n", quote(c.SystemPrompt))
	}
	for _, m := range msgs {
		who := "You"
		if m.Role == api.ChatRoleAssistant {
			who = "Assistant"
			if m.Model != "" {
				who += " (" + m.Model + ")"
			}
		}
		fmt.Fprintf(&b, "## %s\n\n%s\n\n", who, strings.TrimSpace(m.Content))
		if m.CutShort {
			b.WriteString("_(this answer was cut short)_\n\n")
		}
	}
	return b.String()
}

func quote(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = "> " + l
	}
	return strings.Join(lines, "\n")
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// fileName is a title made safe for a Content-Disposition file name.
func fileName(title string) string {
	name := strings.Trim(unsafeFileChars.ReplaceAllString(title, "-"), "-.")
	if name == "" {
		return "conversation"
	}
	return clip(name, 60)
}
