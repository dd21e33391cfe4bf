package accounts

import (
	"bytes"
	"fmt"
	"html/template"
	"time"

	"github.com/duckgate/duckgate/backend/internal/mail"
)

var linkHTML = template.Must(template.New("link").Parse(`<!doctype html>
<html><body style="font-family: system-ui, sans-serif; line-height: 1.5">
<p>{{.Intro}}</p>
<p><a href="{{.URL}}">{{.Action}}</a></p>
<p>The link works once, for {{.Lifetime}}.{{if not .Invite}} If you did not ask for it, ignore this mail: your password stays as it is.{{end}}</p>
</body></html>
`))

// resetMail is the mail carrying a reset or invitation link, in plain text
// and HTML.
func resetMail(to, link string, ttl time.Duration, invite bool) mail.Message {
	subject, intro, action := "Reset your duckgate password",
		"Someone (we hope you) asked to reset the password of your duckgate account "+to+".", "Choose a new password"
	if invite {
		subject, intro, action = "You are invited to duckgate",
			"An administrator created a duckgate account for "+to+". Choose a password to start using it.", "Choose your password"
	}
	lifetime := humanDuration(ttl)
	text := fmt.Sprintf("%s\n\n%s:\n%s\n\nThe link works once, for %s.\n", intro, action, link, lifetime)
	if !invite {
		text += "If you did not ask for it, ignore this mail: your password stays as it is.\n"
	}
	var html bytes.Buffer
	_ = linkHTML.Execute(&html, struct {
		Intro, URL, Action, Lifetime string
		Invite                       bool
	}{intro, link, action, lifetime, invite})
	return mail.Message{To: to, Subject: subject, Text: text, HTML: html.String()}
}

func humanDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	}
	return fmt.Sprintf("%d minutes", int(d.Minutes()))
}
