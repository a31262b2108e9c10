package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// The demo stages its input in moto, runs the KCL consumer (leases in moto's DynamoDB) into Elasticsearch and reports: every event it put is a
// document or one of the two dead letters it planted, and the fan-out scanner tops the peer counts.
func TestDemo(t *testing.T) {
	moto, es := testenv.URL(t, testenv.Moto), testenv.URL(t, testenv.Elasticsearch)
	prefix := testenv.UniqueName(t, "kfdemo")
	testenv.DropPrefix(t, es, prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errs syncBuilder
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-moto", moto, "-sink-url", es, "-index-prefix", prefix, "-batches", "20",
			"-stream-name", prefix, "-log-group", "/kinflow/test/" + prefix, "-console-addr", "127.0.0.1:0"}, &out, &errs)
	}()
	// The demo ends with the console serving its data: the overview counts the demo's flows; cancelling ends it.
	consoleURL := regexp.MustCompile(`security console: (http://127\.0\.0\.1:\d+/)`)
	var u string
	for u == "" {
		select {
		case err := <-done:
			t.Fatalf("demo ended before serving the console: %v\n%s\n%s", err, out.String(), errs.String())
		case <-time.After(200 * time.Millisecond):
		}
		if m := consoleURL.FindStringSubmatch(out.String()); m != nil {
			u = m[1]
		}
	}
	res, err := http.Get(u + "api/overview?range=6h")
	if err != nil {
		t.Fatal(err)
	}
	var ov struct {
		Panels struct {
			Totals struct{ Data struct{ Flows int64 } }
		}
	}
	json.NewDecoder(res.Body).Decode(&ov) //nolint:errcheck
	res.Body.Close()
	if res.StatusCode != 200 || ov.Panels.Totals.Data.Flows == 0 {
		t.Errorf("the demo's console: overview %d, %d flows", res.StatusCode, ov.Panels.Totals.Data.Flows)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, out.String(), errs.String())
	}
	m := regexp.MustCompile(`(?s)put (\d+) flow-log events.*?processed \d+ records: (\d+) log events, (\d+) flow documents, (\d+) dead letters`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("demo output:\n%s", out.String())
	}
	put, events, docs, dead := m[1], m[2], m[3], m[4]
	if put != events || dead != "2" {
		t.Errorf("put %s events, processed %s, %s documents, %s dead letters: want all processed and 2 dead letters", put, events, docs, dead)
	}
	if f := regexp.MustCompile(`finalizer: watermark \S+, (\d+) windows closed, \d+ still open, (\d+) final`).FindStringSubmatch(out.String()); f == nil || f[1] == "0" || f[2] == "0" {
		t.Errorf("no window was finalized:\n%s", out.String())
	}
	// The demo's port scan and fan-out are scans the detections raise alerts on.
	if f := regexp.MustCompile(`detections: (\d+) alerts`).FindStringSubmatch(out.String()); f == nil || f[1] == "0" {
		t.Errorf("the demo's scans raised no alert:\n%s", out.String())
	}
	if !regexp.MustCompile(`\(final connection sets\):\n\s+10\.0\.3\.7 `).MatchString(out.String()) {
		t.Errorf("the fan-out scanner 10.0.3.7 is not first:\n%s", out.String())
	}
}

// Like each of the consumer's commands that take settings, the demo warns of a KINFLOW_ variable that is no setting
// when it starts, before anything else can fail, without logging its value. (Moved here from the consumer's
// TestCommandsWarnOfUnknownVariables with the command.)
func TestDemoWarnsOfUnknownVariables(t *testing.T) {
	t.Setenv("KINFLOW_WINDOWS", "t0psecret")
	const warning = "KINFLOW_WINDOWS is not a kinflow setting; did you mean KINFLOW_WINDOW?"
	var out, errs strings.Builder
	if err := run(t.Context(), []string{"-no-such-flag"}, &out, &errs); !errors.Is(err, errUsage) {
		t.Fatalf("demo -no-such-flag: %v; want it to stop with errUsage", err)
	}
	level, ok := "", false
	for _, line := range strings.Split(errs.String(), "\n") {
		var r struct{ Level, Msg string }
		if json.Unmarshal([]byte(line), &r) == nil && r.Msg == warning {
			level, ok = r.Level, true
		}
	}
	if !ok || level != "WARN" {
		t.Errorf("warning %q at %q, want it at WARN:\n%s", warning, level, errs.String())
	}
	if strings.Contains(errs.String(), "t0psecret") {
		t.Errorf("the variable's value is logged:\n%s", errs.String())
	}
}

// syncBuilder is a strings.Builder the demo writes to while the test reads it.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
