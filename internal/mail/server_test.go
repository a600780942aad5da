package mail

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestParseServer(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Server
	}{
		{"smtp://mail.example.org", Server{Host: "mail.example.org", Port: 587}},
		{"smtp://user:pass@mail.example.org:25", Server{Host: "mail.example.org", Port: 25, Username: "user", password: "pass"}},
		{"smtps://user%40example.org:p%40ss%2Fw%3Ard@mail.example.org", Server{Host: "mail.example.org", Port: 465, ImplicitTLS: true, Username: "user@example.org", password: "p@ss/w:rd"}},
		{"SMTP://[::1]:2525/", Server{Host: "::1", Port: 2525}},
	} {
		got, err := ParseServer(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseServer(%q) = %#v (password %q), %v; want %#v", tc.in, got, got.password, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, says string }{
		{"", "smtp://"},
		{"mail.example.org:587", "smtp://"},
		{"https://mail.example.org", "smtp://"},
		{"smtp://", "no host"},
		{"smtp://user:secret@:587", "no host"},
		{"smtp://mail.example.org:0", "port"},
		{"smtp://mail.example.org:70000", "port"},
		{"smtp://mail.example.org/path", "path"},
		{"smtp://mail.example.org?tls=no", "query"},
		{"smtp://user@mail.example.org", "without a password"},
		{"smtp://:secret@mail.example.org", "without a user"},
		{"smtp://user:sec ret@mail.example.org", "percent-encoded"},
		{"smtp://user:se%zzret@mail.example.org", "percent-encoded"},
	} {
		_, err := ParseServer(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("ParseServer(%q): %v, want an error saying %q", tc.in, err, tc.says)
			continue
		}
		for _, secret := range []string{"secret", "sec ret", "se%zzret"} {
			if strings.Contains(tc.in, secret) && strings.Contains(err.Error(), secret) {
				t.Errorf("ParseServer(%q): the error shows the password: %v", tc.in, err)
			}
		}
	}
}

// TestServerHidesPassword: every way a Server, or a struct holding one, is
// printed, logged or encoded leaves the password out.
func TestServerHidesPassword(t *testing.T) {
	s, err := ParseServer("smtp://sender:hunter2-secret@mail.example.org:587")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.String(), "smtp://sender:REDACTED@mail.example.org:587"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	holder := struct {
		SMTP Server
		From string
	}{s, "news@example.org"}
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		outputs = append(outputs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, holder), fmt.Sprintf(verb, &holder))
	}
	j, err := json.Marshal(holder)
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(j))
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("mail", "server", s, "holder", holder)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("mail", "server", s, "holder", holder)
	outputs = append(outputs, logs.String())
	for _, out := range outputs {
		if strings.Contains(out, "hunter2") {
			t.Errorf("the password is printed: %s", out)
		}
	}
	if !strings.Contains(string(j), "REDACTED") || !strings.Contains(logs.String(), "sender:REDACTED@mail.example.org") {
		t.Errorf("JSON %s and logs %s should show the redacted URL", j, logs.String())
	}
	if (Server{}).String() != "" {
		t.Error("the zero Server prints something")
	}
}
