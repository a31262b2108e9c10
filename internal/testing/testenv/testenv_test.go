package testenv

import (
	"net"
	"strings"
	"testing"
)

// TestVerdict: what a test asking for a service gets, by -short, by whether the service answers and by what the
// environment requires. It needs no service: it listens itself, and dials a port it has just closed.
func TestVerdict(t *testing.T) {
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone.Close()
	upURL, downURL := "http://"+up.Addr().String(), "http://"+gone.Addr().String()
	// Never dialled: a probe of it would be cached under its name.
	unprobed := "http://unprobed.invalid:1"

	svc := Service{Name: "elasticsearch"}
	tests := []struct {
		name     string
		url      string
		short    bool
		ci, req  string
		wantMsg  string // a part of the message; "" for none
		wantFail bool
	}{
		{"short skips a running service", upURL, true, "", "", "-short skips", false},
		{"short skips a missing one", unprobed, true, "", "", "-short skips", false},
		{"short wins over CI", unprobed, true, "true", "all", "-short skips", false},
		{"running", upURL, false, "true", "all", "", false},
		{"missing, not required", downURL, false, "", "", "start it with: scripts/services.sh start elasticsearch", false},
		{"missing, CI", downURL, false, "true", "", "not reachable", true},
		{"missing, CI=false", downURL, false, "false", "", "to make this a failure", false},
		{"missing, required by name", downURL, false, "", "moto, elasticsearch", "not reachable", true},
		{"missing, all required", downURL, false, "", "all", "not reachable", true},
		{"missing, another required", downURL, false, "", "moto", "not reachable", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			t.Setenv(RequireEnv, tt.req)
			msg, fail := verdict(svc, tt.url, tt.short)
			if fail != tt.wantFail || tt.wantMsg == "" && msg != "" || !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("verdict = %q, fail %v; want a message with %q, fail %v", msg, fail, tt.wantMsg, tt.wantFail)
			}
		})
	}
	probeMu.Lock()
	defer probeMu.Unlock()
	if _, ok := probed[unprobed]; ok {
		t.Error("under -short the service was dialled")
	}
}
