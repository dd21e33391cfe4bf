// Package mail sends the backend's mail (password resets, invitations)
// through an SMTP server named by SMTP_URL, with go-mail. It knows nothing
// of what the messages say: the accounts package writes them.
package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one mail with a plain-text and an HTML part.
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string
}

// Sender sends mail.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Options tune an SMTP sender.
type Options struct {
	// Timeout bounds one delivery (connect, talk, send); default 15s.
	Timeout time.Duration
	// TLSConfig replaces the default (system roots, the URL's host) —
	// tests trust their own certificate with it.
	TLSConfig *tls.Config
}

// SMTP delivers through one server.
type SMTP struct {
	from    string
	host    string
	options []gomail.Option
}

// ErrBadURL explains an SMTP_URL that cannot be used.
var ErrBadURL = errors.New("SMTP_URL must look like smtp://user:pass@host:587 or smtps://user:pass@host:465")

// NewSMTP reads rawURL (smtp:// or smtps://, optional user and password)
// and the From address. smtps:// is TLS from the first byte. smtp:// uses
// STARTTLS when the server offers it; without it, mail goes in the clear
// only when there are no credentials to protect — with credentials, TLS is
// required.
func NewSMTP(rawURL, from string, opts Options) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" || (u.Scheme != "smtp" && u.Scheme != "smtps") {
		return nil, ErrBadURL
	}
	if from == "" {
		return nil, errors.New("mail: MAIL_FROM is required with SMTP_URL")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 15 * time.Second
	}
	port := 587
	if u.Scheme == "smtps" {
		port = 465
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, ErrBadURL
		}
	}
	o := []gomail.Option{gomail.WithPort(port), gomail.WithTimeout(opts.Timeout)}
	if opts.TLSConfig != nil {
		o = append(o, gomail.WithTLSConfig(opts.TLSConfig))
	}
	user, password := u.User.Username(), ""
	if p, ok := u.User.Password(); ok {
		password = p
	}
	switch {
	case u.Scheme == "smtps":
		o = append(o, gomail.WithSSL())
	case user != "":
		o = append(o, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		o = append(o, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if user != "" {
		o = append(o, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(user), gomail.WithPassword(password))
	}
	return &SMTP{from: from, host: u.Hostname(), options: o}, nil
}

// Send delivers m, or fails within the timeout. The error never holds the
// password.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return fmt.Errorf("mail: from %q: %w", s.from, err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("mail: to %q: %w", m.To, err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	client, err := gomail.NewClient(s.host, s.options...)
	if err != nil {
		return fmt.Errorf("mail: client: %w", err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("mail: send to %s via %s: %w", m.To, s.host, err)
	}
	return nil
}
