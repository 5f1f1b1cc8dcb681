package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strings"
	"time"
)

// LogSender "delivers" to the log: the embedded default without SMTP, so a
// developer sees verification links and order emails. It logs to, subject
// and the text body at info level; a nil Logger means slog.Default().
type LogSender struct {
	Logger *slog.Logger
}

// Send logs e and never fails.
func (s LogSender) Send(ctx context.Context, e Email) error {
	l := s.Logger
	if l == nil {
		l = slog.Default()
	}
	l.InfoContext(ctx, "email", "to", e.To, "subject", e.Subject, "text", e.Text)
	return nil
}

// DefaultSMTPTimeout bounds a whole SMTP conversation when the context has
// no deadline of its own.
const DefaultSMTPTimeout = 30 * time.Second

// SMTPSender sends through an SMTP server: plain SMTP upgraded with STARTTLS
// when the server offers it, or implicit TLS (smtps). Credentials are kept
// unexported and never logged or put in errors.
type SMTPSender struct {
	host     string // host name, for TLS and AUTH
	addr     string // host:port
	implicit bool   // smtps: TLS from the first byte
	user     string
	pass     string
	hasAuth  bool
	from     string
	// TLSConfig, when set, is used for STARTTLS and smtps (tests with a
	// private CA); by default the system roots verify host.
	TLSConfig *tls.Config
}

// NewSMTPSender returns a sender for rawURL, smtp://[user:pass@]host:port
// (port default 25, STARTTLS when offered) or smtps://[user:pass@]host:port
// (implicit TLS, port default 465), with from as the sender address. It
// returns an error for a malformed URL or address; the error never contains
// the password.
func NewSMTPSender(rawURL, from string) (*SMTPSender, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the whole URL, password included
		}
		return nil, fmt.Errorf("notify: invalid SMTP URL: %w", err)
	}
	s := &SMTPSender{}
	port := ""
	switch u.Scheme {
	case "smtp":
		port = "25"
	case "smtps":
		port, s.implicit = "465", true
	default:
		return nil, fmt.Errorf("notify: invalid SMTP URL: scheme %q is not smtp or smtps", u.Scheme)
	}
	s.host = u.Hostname()
	if s.host == "" {
		return nil, errors.New("notify: invalid SMTP URL: no host")
	}
	if p := u.Port(); p != "" {
		port = p
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("notify: invalid SMTP URL: unexpected path, query or fragment")
	}
	s.addr = net.JoinHostPort(s.host, port)
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
		s.hasAuth = true
	}
	a, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("notify: invalid from address %q: %w", from, err)
	}
	s.from = a.Address
	return s, nil
}

// Addr returns the server's host:port, for logs; it carries no credentials.
func (s *SMTPSender) Addr() string { return s.addr }

// Send delivers e as a multipart/alternative message (text and HTML) with
// Date and Message-ID. The dial and the whole conversation end at ctx's
// deadline (DefaultSMTPTimeout without one) or when ctx is cancelled. It
// returns an error for an invalid recipient or any refusal by the server.
func (s *SMTPSender) Send(ctx context.Context, e Email) error {
	to, err := mail.ParseAddress(e.To)
	if err != nil {
		return fmt.Errorf("notify: invalid recipient: %w", err)
	}
	msg, err := s.compose(e, to)
	if err != nil {
		return err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(DefaultSMTPTimeout)
	}
	d := net.Dialer{Deadline: deadline}
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("notify: smtp dial %s: %w", s.addr, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	if err := conn.SetDeadline(deadline); err != nil {
		return fmt.Errorf("notify: smtp %s: %w", s.addr, err)
	}
	if s.implicit {
		conn = tls.Client(conn, s.tlsConfig())
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return s.fail(ctx, "greeting", err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return s.fail(ctx, "hello", err)
	}
	if !s.implicit {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tlsConfig()); err != nil {
				return s.fail(ctx, "starttls", err)
			}
		}
	}
	if s.hasAuth {
		// PlainAuth refuses to send the password over an unencrypted
		// connection to anything but localhost.
		if err := c.Auth(smtp.PlainAuth("", s.user, s.pass, s.host)); err != nil {
			return s.fail(ctx, "auth", err)
		}
	}
	if err := c.Mail(s.from); err != nil {
		return s.fail(ctx, "mail from", err)
	}
	if err := c.Rcpt(to.Address); err != nil {
		return s.fail(ctx, "rcpt to", err)
	}
	w, err := c.Data()
	if err != nil {
		return s.fail(ctx, "data", err)
	}
	if _, err := w.Write(msg); err != nil {
		return s.fail(ctx, "data", err)
	}
	if err := w.Close(); err != nil {
		return s.fail(ctx, "data", err)
	}
	if err := c.Quit(); err != nil {
		return s.fail(ctx, "quit", err)
	}
	return nil
}

func (s *SMTPSender) fail(ctx context.Context, step string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("notify: smtp %s %s: %w (%v)", s.addr, step, ctx.Err(), err) //nolint:errorlint // the context ended the conversation; the i/o error is detail
	}
	return fmt.Errorf("notify: smtp %s %s: %w", s.addr, step, err)
}

func (s *SMTPSender) tlsConfig() *tls.Config {
	if s.TLSConfig != nil {
		c := s.TLSConfig.Clone()
		if c.ServerName == "" {
			c.ServerName = s.host
		}
		return c
	}
	return &tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}
}

// compose renders the RFC 5322 message: headers, then a
// multipart/alternative body with quoted-printable text and HTML parts.
func (s *SMTPSender) compose(e Email, to *mail.Address) ([]byte, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, part := range []struct{ ctype, content string }{
		{"text/plain; charset=utf-8", e.Text},
		{"text/html; charset=utf-8", e.HTML},
	} {
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.ctype},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, fmt.Errorf("notify: compose: %w", err)
		}
		qp := quotedprintable.NewWriter(pw)
		if _, err := qp.Write([]byte(part.content)); err != nil {
			return nil, fmt.Errorf("notify: compose: %w", err)
		}
		if err := qp.Close(); err != nil {
			return nil, fmt.Errorf("notify: compose: %w", err)
		}
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("notify: compose: %w", err)
	}
	var id [16]byte
	_, _ = rand.Read(id[:])
	domain := s.from[strings.LastIndexByte(s.from, '@')+1:]

	var m bytes.Buffer
	hdr := func(k, v string) { m.WriteString(k + ": " + v + "\r\n") }
	hdr("From", (&mail.Address{Address: s.from}).String())
	hdr("To", to.String())
	// Q-encoding also encodes CR and LF, so a subject cannot inject headers.
	hdr("Subject", mime.QEncoding.Encode("utf-8", e.Subject))
	hdr("Date", time.Now().Format(time.RFC1123Z))
	hdr("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+domain+">")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
	m.WriteString("\r\n")
	m.Write(body.Bytes())
	return m.Bytes(), nil
}
