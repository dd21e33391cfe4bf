package mail

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/duckgate/duckgate/shared/mailtest"
)

// selfSigned is a certificate for 127.0.0.1 and a client config trusting it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mail.test"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12},
		&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

var hello = Message{To: "ann@example.com", Subject: "Hello Ann", Text: "plain words\n", HTML: "<p>html words</p>"}

func TestPlainSMTPWithoutCredentialsDelivers(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	s, err := NewSMTP(srv.URL(), "duckgate <noreply@example.com>", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), hello); err != nil {
		t.Fatal(err)
	}
	got := srv.WaitFor(t, "ann@example.com", "Hello Ann", 5*time.Second)
	if got.From != "noreply@example.com" || strings.TrimSpace(got.Text) != "plain words" || !strings.Contains(got.HTML, "<p>html words</p>") {
		t.Fatalf("delivered %+v", got)
	}
}

func TestCredentialsGoOnlyOverTLS(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	srv := mailtest.Start(t, mailtest.Options{TLS: serverTLS, Username: "mailer", Password: "s3cret"})
	s, err := NewSMTP(srv.URL(), "noreply@example.com", Options{TLSConfig: clientTLS})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), hello); err != nil {
		t.Fatalf("STARTTLS and AUTH: %v", err)
	}
	srv.WaitFor(t, "ann@example.com", "Hello Ann", 5*time.Second)

	// A server that offers no STARTTLS never sees the password.
	plain := mailtest.Start(t, mailtest.Options{Username: "mailer", Password: "s3cret"})
	s, _ = NewSMTP(plain.URL(), "noreply@example.com", Options{Timeout: 3 * time.Second})
	err = s.Send(context.Background(), hello)
	if err == nil || len(plain.Messages()) != 0 {
		t.Fatalf("credentials sent in the clear: err %v, %d messages", err, len(plain.Messages()))
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("the error holds the password: %v", err)
	}
}

func TestASilentServerTimesOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // says nothing, ever
		}
	}()
	s, _ := NewSMTP("smtp://"+ln.Addr().String(), "noreply@example.com", Options{Timeout: 500 * time.Millisecond})
	start := time.Now()
	if err := s.Send(context.Background(), hello); err == nil {
		t.Fatal("a silent server accepted the mail")
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Fatalf("gave up after %v", waited)
	}
}

func TestBadURLs(t *testing.T) {
	for _, raw := range []string{"http://x", "smtp://", "mail.example.com:25", "smtp://host:notaport"} {
		if _, err := NewSMTP(raw, "a@b.c", Options{}); err == nil {
			t.Errorf("%q accepted", raw)
		}
	}
	if _, err := NewSMTP("smtp://host", "", Options{}); err == nil {
		t.Error("no From accepted")
	}
}
