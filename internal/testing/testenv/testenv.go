// Package testenv finds the local services that integration tests talk to (started by scripts/services.sh) and the
// Chromium that browser tests drive (installed by it), and decides what happens when one is missing: in CI, or when
// the service was asked for, the test fails; on a developer's machine that did not ask for it, the test is skipped
// with the command that would start it. Under `go test -short` every test that asks for a service is skipped,
// whether the service runs or not: -short means the tests that need nothing outside the process, and its result
// must not depend on what happens to run. It also gives each test its folder of artifacts.
package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// A Service is one of the local servers scripts/services.sh manages.
type Service struct {
	Name    string // as scripts/services.sh names it
	EnvVar  string // overrides the address, e.g. http://127.0.0.1:9200
	Default string
}

// The services, with the defaults scripts/services.sh uses.
var (
	Elasticsearch = Service{"elasticsearch", "KINFLOW_ES_URL", "http://127.0.0.1:9200"}
	OpenSearch    = Service{"opensearch", "KINFLOW_OPENSEARCH_URL", "http://127.0.0.1:9201"}
	Moto          = Service{"moto", "KINFLOW_MOTO_URL", "http://127.0.0.1:5000"}
	Kinesalite    = Service{"kinesalite", "KINFLOW_KINESALITE_URL", "http://127.0.0.1:4567"}
	Dynalite      = Service{"dynalite", "KINFLOW_DYNALITE_URL", "http://127.0.0.1:4568"}
)

// RequireEnv lists services (comma-separated names, or "all") whose absence fails a test instead of skipping it.
// `make test` sets it to "all"; CI=true has the same effect.
const RequireEnv = "KINFLOW_REQUIRE_SERVICES"

// Region is the region every local AWS client uses.
const Region = "us-east-1"

// URL returns the service's base URL once it accepts connections; otherwise it fails or skips tb (see package doc).
func URL(tb testing.TB, s Service) string {
	tb.Helper()
	u := s.Default
	if v := os.Getenv(s.EnvVar); v != "" {
		u = v
	}
	if msg, fail := verdict(s, u, testing.Short()); fail {
		tb.Fatal(msg)
	} else if msg != "" {
		tb.Skip(msg)
	}
	return u
}

// verdict decides for a test that asks for s at u: "" to go on, or why not and whether that is a failure. Under
// -short it skips without looking for the service (and so even when CI or RequireEnv would make a missing one
// fail: -short asks for the unit tests only, and an integration test that did not run has not failed).
func verdict(s Service, u string, short bool) (msg string, fail bool) {
	if short {
		return shortMsg(s), false
	}
	if err := reachable(u); err != nil {
		return missing(s, fmt.Sprintf("%s is not reachable at %s (%v); start it with: scripts/services.sh start %s", s.Name, u, err, s.Name))
	}
	return "", false
}

// shortMsg is why a test that needs s is skipped under -short.
func shortMsg(s Service) string {
	return fmt.Sprintf("integration test: needs %s; -short skips every test that needs a service", s.Name)
}

// missing is the verdict on a service that is not there, msg saying why and how to get it: a failure when the
// service is required, a skip otherwise.
func missing(s Service, msg string) (string, bool) {
	if required(s) {
		return msg, true
	}
	return msg + " (set " + RequireEnv + "=all or CI=true to make this a failure)", false
}

// required reports whether a missing s must fail the test.
func required(s Service) bool {
	if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
		return true
	}
	for _, name := range strings.Split(os.Getenv(RequireEnv), ",") {
		name = strings.TrimSpace(name)
		if name == "all" || name == s.Name {
			return true
		}
	}
	return false
}

var (
	probeMu sync.Mutex
	probed  = map[string]error{}
)

// reachable dials the URL's host once per test binary; the answer is cached so a package's tests do not each wait.
func reachable(raw string) error {
	probeMu.Lock()
	defer probeMu.Unlock()
	if err, ok := probed[raw]; ok {
		return err
	}
	u, err := url.Parse(raw)
	if err != nil {
		probed[raw] = err
		return err
	}
	conn, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err == nil {
		conn.Close()
	}
	probed[raw] = err
	return err
}

// AWSConfig returns an AWS SDK configuration for a local emulator at endpoint: fixed test credentials, Region, and
// the endpoint for every service client built from it.
func AWSConfig(endpoint string) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("kinflow-test", "kinflow-test", ""),
		BaseEndpoint: aws.String(endpoint),
		HTTPClient:   &http.Client{Timeout: 30 * time.Second},
		// The emulators answer quickly or not at all; do not let the SDK's retries hide a broken service for minutes.
		RetryMaxAttempts: 3,
	}
}

// Context returns a context that ends with the test, or after d, whichever comes first.
func Context(tb testing.TB, d time.Duration) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// UniqueName returns a name for a test's stream, table, log group or index that does not collide with other tests
// or earlier runs against the same long-running service. Lower case, so it is also a valid index name.
func UniqueName(tb testing.TB, prefix string) string {
	tb.Helper()
	name := strings.ToLower(tb.Name())
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, name)
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("%s-%s-%d", prefix, strings.Trim(name, "-"), time.Now().UnixNano()%1_000_000_000)
}

// ShiftEnv moves the clock tests build their corpora from (Now) by a Go duration, "-720h" for 30 days back: a run
// with it proves that no test depends on the day it was written, and that the code under test, which reads the
// real clock, handles data that much older (a backlog). Tests behind moto's CloudWatch Logs, which drops events older
// than 14 days as AWS does, keep the real clock.
const ShiftEnv = "KINFLOW_TEST_SHIFT"

// Now is the clock of test corpora: the wall clock, moved by ShiftEnv when it is set. A malformed shift fails tb.
func Now(tb testing.TB) time.Time {
	tb.Helper()
	v := os.Getenv(ShiftEnv)
	if v == "" {
		return time.Now()
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		tb.Fatalf("%s=%q: %v", ShiftEnv, v, err)
	}
	return time.Now().Add(d)
}
