package config

import (
	"strings"
	"testing"
)

// The console listens on loopback unless a token guards it; the address must be host:port.
func TestValidateConsole(t *testing.T) {
	for _, c := range []struct {
		addr, token, want string // want: "" for valid, else a part of the error
	}{
		{"127.0.0.1:8080", "", ""},
		{"[::1]:8080", "", ""},
		{"localhost:0", "", ""},
		{"0.0.0.0:8080", "", "KINFLOW_CONSOLE_TOKEN is required"},
		{":8080", "", "KINFLOW_CONSOLE_TOKEN is required"},
		{"10.0.0.5:8080", "", "not a loopback address"},
		{"0.0.0.0:8080", "s3cret", ""},
		{"8080", "", "want host:port"},
	} {
		cfg := Default()
		cfg.Console.Addr, cfg.Console.Token = c.addr, c.token
		err := cfg.ValidateConsole()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q token=%v: %v", c.addr, c.token != "", err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q token=%v: %v, want an error with %q", c.addr, c.token != "", err, c.want)
		case err != nil && c.token != "" && strings.Contains(err.Error(), c.token):
			t.Errorf("the token is in the error: %v", err)
		}
	}
}
