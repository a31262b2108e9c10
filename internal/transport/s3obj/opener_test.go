package s3obj

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kinflow/kinflow/internal/retry"
)

// fakeS3 answers GetObject as S3 does for what the opener uses: versionId, If-Match, Range, and error documents.
// It can cut a response after some bytes, as a flaky connection does.
type fakeS3 struct {
	mu       sync.Mutex
	objects  map[string]*fakeObject // "bucket/key"
	cuts     []int                  // body bytes after which to cut the next responses, one per response
	statuses []int                  // error statuses to answer the next requests with, one per request
	seen     []seenRequest
}

type fakeObject struct {
	data          []byte
	etag, version string
}

type seenRequest struct{ Range, IfMatch, VersionID string }

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.seen = append(f.seen, seenRequest{r.Header.Get("Range"), r.Header.Get("If-Match"), r.URL.Query().Get("versionId")})
	obj := f.objects[strings.TrimPrefix(r.URL.Path, "/")]
	var status, cut int = 0, -1
	if len(f.statuses) > 0 {
		status, f.statuses = f.statuses[0], f.statuses[1:]
	}
	f.mu.Unlock()
	fail := func(status int, code string) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>fake</Message><RequestId>1</RequestId></Error>`, code)
	}
	switch {
	case status == 403:
		fail(403, "AccessDenied")
		return
	case status == 503:
		fail(503, "SlowDown")
		return
	case obj == nil:
		fail(404, "NoSuchKey")
		return
	case r.URL.Query().Get("versionId") != "" && r.URL.Query().Get("versionId") != obj.version:
		fail(404, "NoSuchVersion")
		return
	case r.Header.Get("If-Match") != "" && r.Header.Get("If-Match") != `"`+obj.etag+`"`:
		fail(412, "PreconditionFailed")
		return
	}
	f.mu.Lock()
	if len(f.cuts) > 0 {
		cut, f.cuts = f.cuts[0], f.cuts[1:]
	}
	f.mu.Unlock()
	body, code := obj.data, http.StatusOK
	if rg := r.Header.Get("Range"); rg != "" {
		from, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(obj.data)-1, len(obj.data)))
		body, code = obj.data[from:], http.StatusPartialContent
	}
	w.Header().Set("ETag", `"`+obj.etag+`"`)
	if obj.version != "" {
		w.Header().Set("x-amz-version-id", obj.version)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	if cut < 0 || cut >= len(body) {
		w.Write(body)
		return
	}
	w.Write(body[:cut])
	w.(http.Flusher).Flush()
	conn, _, err := w.(http.Hijacker).Hijack() // then close: the client sees the body end before Content-Length
	if err == nil {
		conn.Close()
	}
}

func newFake(t *testing.T) (*fakeS3, *s3.Client) {
	t.Helper()
	f := &fakeS3{objects: map[string]*fakeObject{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, s3Client(srv.URL, http.DefaultTransport)
}

func s3Client(endpoint string, rt http.RoundTripper) *s3.Client {
	return s3.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("kinflow-test", "kinflow-test", ""),
		BaseEndpoint:     aws.String(endpoint),
		HTTPClient:       &http.Client{Transport: rt, Timeout: 30 * time.Second},
		RetryMaxAttempts: 1, // the opener's own resumes are under test, not the SDK's retries
	}, func(o *s3.Options) { o.UsePathStyle = true })
}

func newOpener(tb testing.TB, client GetObjectAPI, maxReopens int) *S3Opener {
	tb.Helper()
	cfg := DefaultConfig()
	cfg.MaxReopens = maxReopens
	o, err := NewS3Opener(client, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	o.sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	return o
}

func flowLogObject(tb testing.TB, lines int) ([]byte, string) {
	tb.Helper()
	var b strings.Builder
	b.WriteString("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n")
	for i := range lines {
		fmt.Fprintf(&b, "2 123456789012 eni-0a1b2c3d 10.0.%d.%d 10.1.0.%d %d 443 6 %d %d 1700000000 1700000060 ACCEPT OK\n",
			i%250, i%7+1, i%200+1, 32768+i%20000, i%40+1, 60*(i%40+1))
	}
	// Two gzip members, as a concatenated upload would be.
	s := b.String()
	return gzipped(tb, s[:len(s)/3], s[len(s)/3:]), s
}

func readObject(tb testing.TB, rc io.ReadCloser) (string, error) {
	tb.Helper()
	defer rc.Close()
	l, err := NewLines(rc, DefaultConfig())
	if err != nil {
		tb.Fatal(err)
	}
	var b strings.Builder
	for l.Next() {
		b.Write(l.Bytes())
		b.WriteByte('\n')
	}
	return b.String(), l.Err()
}

func TestOpenerResumesEachByteOnce(t *testing.T) {
	f, client := newFake(t)
	data, text := flowLogObject(t, 20_000)
	f.objects["logs/a.log.gz"] = &fakeObject{data: data, etag: "e1"}
	f.cuts = []int{1000, 5000, 0, 70_000} // the third response breaks before its first byte
	o := newOpener(t, client, 5)
	rc, err := o.Open(t.Context(), ObjectRef{Bucket: "logs", Key: "a.log.gz", ETag: "e1"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := readObject(t, rc)
	if err != nil {
		t.Fatal(err)
	}
	if got != text {
		t.Fatalf("read %d bytes of text, want %d", len(got), len(text))
	}
	want := []seenRequest{{"", `"e1"`, ""}, {"bytes=1000-", `"e1"`, ""}, {"bytes=6000-", `"e1"`, ""},
		{"bytes=6000-", `"e1"`, ""}, {"bytes=76000-", `"e1"`, ""}}
	if fmt.Sprint(f.seen) != fmt.Sprint(want) {
		t.Errorf("requests %v, want %v", f.seen, want)
	}
}

func TestOpenerPins(t *testing.T) {
	f, client := newFake(t)
	data, _ := flowLogObject(t, 5000)
	o := newOpener(t, client, 5)

	t.Run("version id", func(t *testing.T) {
		f.objects["logs/v.gz"] = &fakeObject{data: data, etag: "e1", version: "v1"}
		f.seen, f.cuts = nil, []int{100}
		rc, err := o.Open(t.Context(), ObjectRef{Bucket: "logs", Key: "v.gz", VersionID: "v1", ETag: "e1"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := readObject(t, rc); err != nil {
			t.Fatal(err)
		}
		for _, r := range f.seen {
			if r.VersionID != "v1" || r.IfMatch != "" {
				t.Errorf("request %+v: want versionId v1 and no If-Match", r)
			}
		}
	})
	t.Run("first answer's etag when the notification had none", func(t *testing.T) {
		obj := &fakeObject{data: data, etag: "e1"}
		f.objects["logs/n.gz"] = obj
		f.seen, f.cuts = nil, []int{100}
		rc, err := o.Open(t.Context(), ObjectRef{Bucket: "logs", Key: "n.gz"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := readObject(t, rc); err != nil {
			t.Fatal(err)
		}
		if len(f.seen) != 2 || f.seen[0].IfMatch != "" || f.seen[1].IfMatch != `"e1"` {
			t.Errorf("requests %+v", f.seen)
		}
	})
	t.Run("rewritten before open", func(t *testing.T) {
		f.objects["logs/r.gz"] = &fakeObject{data: data, etag: "e2"}
		_, err := o.Open(t.Context(), ObjectRef{Bucket: "logs", Key: "r.gz", ETag: "e1"})
		wantReason(t, err, ReasonObjectChanged, true)
	})
	t.Run("rewritten during the read", func(t *testing.T) {
		obj := &fakeObject{data: data, etag: "e1"}
		f.objects["logs/d.gz"] = obj
		f.cuts = []int{2000}
		rc, err := o.Open(t.Context(), ObjectRef{Bucket: "logs", Key: "d.gz", ETag: "e1"})
		if err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		f.objects["logs/d.gz"] = &fakeObject{data: data, etag: "e2"}
		f.mu.Unlock()
		_, err = readObject(t, rc)
		e := wantReason(t, err, ReasonObjectChanged, true)
		if e.Line < 1 {
			t.Errorf("error %v has no line", err)
		}
	})
}

func TestOpenerGivesUp(t *testing.T) {
	f, client := newFake(t)
	data, _ := flowLogObject(t, 5000)
	f.objects["logs/a.gz"] = &fakeObject{data: data, etag: "e1"}
	f.cuts = []int{10, 10, 10, 10}
	o := newOpener(t, client, 3)
	rc, err := o.Open(t.Context(), ObjectRef{Bucket: "logs", Key: "a.gz", ETag: "e1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = readObject(t, rc)
	e := wantReason(t, err, ReasonTransient, false)
	if !strings.Contains(err.Error(), "gave up after 3 resumes") {
		t.Errorf("error %v", e)
	}
}

func TestOpenerClassifies(t *testing.T) {
	f, client := newFake(t)
	f.objects["logs/a.gz"] = &fakeObject{data: []byte("x\n"), etag: "e1", version: "v1"}
	o := newOpener(t, client, 3)
	for name, tc := range map[string]struct {
		obj       ObjectRef
		status    int
		reason    Reason
		permanent bool
	}{
		"no such key":     {ObjectRef{Bucket: "logs", Key: "missing"}, 0, ReasonNotFound, true},
		"no such version": {ObjectRef{Bucket: "logs", Key: "a.gz", VersionID: "v0"}, 0, ReasonNotFound, true},
		"access denied":   {ObjectRef{Bucket: "logs", Key: "a.gz"}, 403, ReasonAccessDenied, true},
		"slow down":       {ObjectRef{Bucket: "logs", Key: "a.gz"}, 503, ReasonTransient, false},
	} {
		t.Run(name, func(t *testing.T) {
			if tc.status != 0 {
				f.statuses = []int{tc.status}
			}
			_, err := o.Open(t.Context(), tc.obj)
			wantReason(t, err, tc.reason, tc.permanent)
		})
	}
	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := o.Open(ctx, ObjectRef{Bucket: "logs", Key: "a.gz"})
		wantReason(t, err, ReasonTransient, false)
	})
}

func wantReason(tb testing.TB, err error, reason Reason, permanent bool) *Error {
	tb.Helper()
	var e *Error
	if !errors.As(err, &e) {
		tb.Fatalf("got %v, want an *Error", err)
	}
	if e.Reason != reason || e.Permanent() != permanent || retry.IsPermanent(err) != permanent {
		tb.Fatalf("got %v (reason %s, permanent %v), want reason %s, permanent %v", err, e.Reason, e.Permanent(), reason, permanent)
	}
	return e
}

func TestIdentity(t *testing.T) {
	if got := (ObjectRef{ETag: "e", VersionID: "v"}).Identity(); got != "v" {
		t.Errorf("Identity with a version = %q", got)
	}
	if got := (ObjectRef{ETag: "e"}).Identity(); got != "e" {
		t.Errorf("Identity without a version = %q", got)
	}
}

func TestBackoff(t *testing.T) {
	cfg := DefaultConfig()
	for n := 1; n < 40; n++ {
		d := backoff(cfg, n)
		if d < cfg.ReopenBackoff/2 || d > cfg.MaxReopenBackoff {
			t.Errorf("backoff(%d) = %v", n, d)
		}
	}
}
