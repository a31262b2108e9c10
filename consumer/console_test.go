package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// `consumer console` refuses an address other machines can reach unless a token guards it, and names the setting.
func TestConsoleNeedsTokenOffLoopback(t *testing.T) {
	var out, errs strings.Builder
	err := dispatch(t.Context(), []string{"console", "-console-addr", "0.0.0.0:0"}, nil, &out, &errs)
	if err == nil || !strings.Contains(err.Error(), "KINFLOW_CONSOLE_TOKEN") {
		t.Fatalf("console on 0.0.0.0 without a token: %v; want a refusal naming KINFLOW_CONSOLE_TOKEN", err)
	}
	t.Setenv("KINFLOW_CONSOLE_TOKEN", "t0ken")
	if err := dispatch(t.Context(), []string{"console", "-console-addr", "nonsense"}, nil, &out, &errs); err == nil || !strings.Contains(err.Error(), "host:port") {
		t.Errorf("console -console-addr nonsense: %v", err)
	}
	if strings.Contains(errs.String(), "t0ken") {
		t.Errorf("the token was printed:\n%s", errs.String())
	}
}

// On loopback it starts without a token, prints its URL and serves its API until the context ends. No cluster runs
// at the sink URL here: the API answers with the error, which is what the page shows.
func TestConsoleServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- dispatch(ctx, []string{"console", "-console-addr", "127.0.0.1:0", "-sink-url", "http://127.0.0.1:1"}, nil, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no first line: %v (%v)", err, <-done)
	}
	go io.Copy(io.Discard, pr) //nolint:errcheck
	u := regexp.MustCompile(`http://127\.0\.0\.1:\d+/`).FindString(line)
	if u == "" {
		t.Fatalf("no URL in %q", line)
	}
	res, err := http.Get(u + "api/meta")
	if err != nil {
		t.Fatal(err)
	}
	var meta struct{ Pages []struct{ ID string } }
	json.NewDecoder(res.Body).Decode(&meta) //nolint:errcheck
	res.Body.Close()
	if res.StatusCode != 200 || len(meta.Pages) == 0 {
		t.Errorf("GET /api/meta: %d %+v", res.StatusCode, meta)
	}
	res, err = http.Get(u + "api/overview")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadGateway {
		t.Errorf("overview with no cluster: %d, want 502", res.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("console after cancel: %v", err)
	}
}
