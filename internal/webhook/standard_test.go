package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// wantStandard is the signature as the specification describes it, computed without SignStandard.
func wantStandard(key []byte, id, ts string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestSignStandard(t *testing.T) {
	tests := []struct {
		name string
		key  []byte
		id   string
		ts   int64
		body []byte
	}{
		{"compat body", testSecret, "kinflow-1700000400-r1-c0", 1700001060, []byte(`{"10.0.0.1":12,"10.0.0.2":3}`)},
		{"empty body", testSecret, "kinflow-1700000400-r2-c3", 1700001060, nil},
		{"binary key", []byte{0, 1, 2, 0xfe, 0xff}, "kinflow-0-r1-c0", 0, []byte("{}")},
		{"negative time", []byte("k"), "kinflow-1-r1-c1", -1, []byte("x")},
		{"large body", []byte("k"), "kinflow-1-r1-c1", 1 << 40, bytes.Repeat([]byte(`{"a":1}`), 10000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SignStandard(tt.key, tt.id, tt.ts, tt.body)
			if want := wantStandard(tt.key, tt.id, strconv.FormatInt(tt.ts, 10), tt.body); got != want {
				t.Errorf("SignStandard = %s, want %s", got, want)
			}
			// 32 bytes in padded standard base64: 44 characters ending in one '='.
			if len(got) != len("v1,")+44 || !strings.HasSuffix(got, "=") {
				t.Errorf("SignStandard = %q: not v1, and a padded base64 SHA-256", got)
			}
		})
	}
}

func TestStandardKey(t *testing.T) {
	raw := []byte("0123456789abcdef0123456789abcdef") // 32 key bytes
	tests := []struct {
		name    string
		secret  string
		want    []byte
		wantErr string
	}{
		{"plain secret is used as is", "s3cret-hmac-key", []byte("s3cret-hmac-key"), ""},
		{"whsec_ is decoded", "whsec_" + base64.StdEncoding.EncodeToString(raw), raw, ""},
		{"prefix elsewhere is plain", "my-whsec_key", []byte("my-whsec_key"), ""},
		{"not base64", "whsec_not*base64", nil,
			"secret whsec_...: not standard base64 after the prefix: illegal base64 data at input byte 3"},
		{"unpadded", "whsec_" + base64.RawStdEncoding.EncodeToString([]byte("ab")), nil, "not standard base64"},
		{"empty key", "whsec_", nil, "secret whsec_...: no key after the prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := StandardKey([]byte(tt.secret))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("StandardKey = %q, %v; want an error with %q", got, err, tt.wantErr)
				}
				cfg := configFor("https://hooks.example/", FormatCompat)
				cfg.Secret = []byte(tt.secret)
				verr := cfg.Validate()
				const allowed = "want whsec_ followed by the standard base64 of the key"
				if !errors.Is(verr, ErrInvalidConfig) || !strings.Contains(verr.Error(), allowed) {
					t.Errorf("Validate = %v, want it to refuse the secret and say what is allowed", verr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Errorf("StandardKey = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// tolerance is the verifier's replay window, the libraries' default.
const tolerance = 5 * time.Minute

var (
	errNoSignature  = errors.New("no matching signature")
	errBadTimestamp = errors.New("timestamp outside the tolerance")
)

// verifyStandard is a receiver written from the specification, not from kinflow's code: it reads the three
// headers, refuses a timestamp farther than tolerance from its own clock, recomputes the v1 signature over
// id.timestamp.body and accepts the request when any of the space-separated signatures matches, compared in
// constant time.
func verifyStandard(key []byte, h http.Header, body []byte, receiverNow time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("missing headers: id %q, timestamp %q, signature %q", id, ts, sigs)
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("timestamp %q: %w", ts, err)
	}
	if d := receiverNow.Sub(time.Unix(secs, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %v", errBadTimestamp, d)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		version, enc, ok := strings.Cut(s, ",")
		if !ok || version != "v1" { // v1a (asymmetric) and unknown versions are someone else's
			continue
		}
		if got, err := base64.StdEncoding.DecodeString(enc); err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errNoSignature
}

// clock is the fake time of a delivery: the client reads it, and the injected Sleep advances it.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }
func (c *clock) sleep(_ context.Context, d time.Duration) error {
	c.t = c.t.Add(d)
	return nil
}

func TestStandardVerifierAcceptsRetriesAndRefusesTampering(t *testing.T) {
	retryIn90 := reply{status: 503, header: map[string]string{"Retry-After": "90"}}
	rcv := newReceiver(t, retryIn90, retryIn90, reply{status: 200})
	cfg := configFor(rcv.srv.URL+"/connection_sets/{bucket_time}", FormatCompat)
	cfg.Secret = testSecret
	clk := &clock{t: now}
	c := newTestClient(t, cfg, Options{Sleep: clk.sleep})
	c.now = clk.now
	ch := fixtureChunk(t)
	if err := c.Deliver(t.Context(), ch); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	reqs := rcv.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for i, r := range reqs {
		// Each attempt carries its own time (the Sleep moved the clock 90s), and the receiver's clock is that of
		// the attempt's arrival.
		sent := now.Add(time.Duration(i) * 90 * time.Second)
		if got, want := r.header.Get("webhook-timestamp"), strconv.FormatInt(sent.Unix(), 10); got != want {
			t.Errorf("attempt %d: webhook-timestamp %s, want %s", i, got, want)
		}
		if got := r.header.Get("webhook-id"); got != "kinflow-1700000400-r2-c3" || got != r.header.Get("Idempotency-Key") {
			t.Errorf("attempt %d: webhook-id %q, want the Idempotency-Key of the chunk", i, got)
		}
		if err := verifyStandard(testSecret, r.header, r.body, sent.Add(2*time.Second)); err != nil {
			t.Errorf("attempt %d: a spec verifier refuses kinflow's request: %v", i, err)
		}
	}

	r := reqs[0]
	arrival := now.Add(time.Second)
	tampered := func(name, value string) http.Header {
		h := r.header.Clone()
		h.Set(name, value)
		return h
	}
	ts, _ := strconv.ParseInt(r.header.Get("webhook-timestamp"), 10, 64)
	otherBody := bytes.Replace(r.body, []byte(`"10.0.0.1":3`), []byte(`"10.0.0.1":4`), 1)
	if bytes.Equal(otherBody, r.body) {
		t.Fatalf("fixture changed: %s", r.body)
	}
	refusals := []struct {
		name    string
		header  http.Header
		body    []byte
		at      time.Time
		wantErr error
	}{
		{"changed body", r.header, otherBody, arrival, errNoSignature},
		{"changed timestamp, within tolerance", tampered("webhook-timestamp", strconv.FormatInt(ts+30, 10)), r.body,
			arrival, errNoSignature},
		{"other chunk's id", tampered("webhook-id", "kinflow-1700000400-r2-c4"), r.body, arrival, errNoSignature},
		{"replayed after the tolerance", r.header, r.body, now.Add(tolerance + time.Second), errBadTimestamp},
		{"from the future", r.header, r.body, now.Add(-tolerance - time.Second), errBadTimestamp},
		{"wrong key", r.header, r.body, arrival, errNoSignature},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			key := testSecret
			if tt.name == "wrong key" {
				key = []byte("another key")
			}
			if err := verifyStandard(key, tt.header, tt.body, tt.at); !errors.Is(err, tt.wantErr) {
				t.Errorf("verifier = %v, want %v", err, tt.wantErr)
			}
		})
	}

	t.Run("any of several signatures", func(t *testing.T) {
		// What a receiver sees during a key rotation: an unknown version, a signature of the old key, then ours.
		old := SignStandard([]byte("old key"), r.header.Get("webhook-id"), ts, r.body)
		h := tampered("webhook-signature", "v1a,aGVsbG8= "+old+" "+r.header.Get("webhook-signature"))
		if err := verifyStandard(testSecret, h, r.body, arrival); err != nil {
			t.Errorf("verifier = %v, want the last signature to match", err)
		}
	})
}

func TestStandardIDPerChunk(t *testing.T) {
	rcv := newReceiver(t, reply{status: 200})
	cfg := configFor(rcv.srv.URL, FormatRich)
	cfg.Secret = testSecret
	c := newTestClient(t, cfg, Options{})
	c.now = func() time.Time { return now }
	ch := fixtureChunk(t)
	ids := map[string]bool{}
	for _, index := range []int{0, 1, 0} { // chunk 0 twice: a redo after a crash
		ch.Index, ch.Last = index, index == 1
		if err := c.Deliver(t.Context(), ch); err != nil {
			t.Fatalf("Deliver: %v", err)
		}
	}
	reqs := rcv.requests()
	for _, r := range reqs {
		ids[r.header.Get("webhook-id")] = true
		if err := verifyStandard(testSecret, r.header, r.body, now); err != nil {
			t.Errorf("%s: %v", r.header.Get("webhook-id"), err)
		}
	}
	want := map[string]bool{"kinflow-1700000400-r2-c0": true, "kinflow-1700000400-r2-c1": true}
	if diff := cmp.Diff(want, ids); len(reqs) != 3 || diff != "" {
		t.Errorf("%d requests, ids (-want +got):\n%s", len(reqs), diff)
	}
}

func TestStandardWhsecSecret(t *testing.T) {
	raw := []byte("0123456789abcdef0123456789abcdef")
	whsec := []byte("whsec_" + base64.StdEncoding.EncodeToString(raw))
	rcv := newReceiver(t, reply{status: 200})
	cfg := configFor(rcv.srv.URL, FormatCompat)
	cfg.Secret = whsec
	c := newTestClient(t, cfg, Options{})
	c.now = func() time.Time { return now }
	if err := c.Deliver(t.Context(), fixtureChunk(t)); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	r := rcv.requests()[0]
	if err := verifyStandard(raw, r.header, r.body, now); err != nil {
		t.Errorf("verifier with the decoded key: %v", err)
	}
	if err := verifyStandard(whsec, r.header, r.body, now); !errors.Is(err, errNoSignature) {
		t.Errorf("verifier with the literal whsec_ string = %v, want %v", err, errNoSignature)
	}
	// X-Kinflow-Signature is unchanged: the configured bytes, prefix and all, are its key.
	mac := hmac.New(sha256.New, whsec)
	mac.Write(r.body)
	if got, want := r.header.Get("X-Kinflow-Signature"), fmt.Sprintf("sha256=%x", mac.Sum(nil)); got != want {
		t.Errorf("X-Kinflow-Signature %s, want %s", got, want)
	}
}

func TestStandardWithoutSecret(t *testing.T) {
	rcv := newReceiver(t, reply{status: 200})
	c := newTestClient(t, configFor(rcv.srv.URL, FormatCompat), Options{})
	c.now = func() time.Time { return now }
	if err := c.Deliver(t.Context(), fixtureChunk(t)); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	h := rcv.requests()[0].header
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	if id != "kinflow-1700000400-r2-c3" || ts != strconv.FormatInt(now.Unix(), 10) {
		t.Errorf("webhook-id %q, webhook-timestamp %q", id, ts)
	}
	if _, ok := h["Webhook-Signature"]; ok {
		t.Errorf("webhook-signature without a secret: %v", h)
	}
}
