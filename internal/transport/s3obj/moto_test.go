package s3obj

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// cutter breaks the bodies of the first GetObject answers after a number of bytes, as a flaky connection does,
// so the resume path runs against a real S3 implementation.
type cutter struct {
	next  http.RoundTripper
	cuts  []int64
	count atomic.Int32
}

func (c *cutter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err != nil || r.Method != http.MethodGet || r.URL.Query().Has("versioning") || resp.StatusCode >= 300 {
		return resp, err
	}
	if i := int(c.count.Add(1)) - 1; i < len(c.cuts) {
		resp.Body = &cutBody{ReadCloser: resp.Body, left: c.cuts[i]}
	}
	return resp, nil
}

type cutBody struct {
	io.ReadCloser
	left int64
}

func (b *cutBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n, err := b.ReadCloser.Read(p[:min(int64(len(p)), b.left)])
	b.left -= int64(n)
	return n, err
}

// TestMotoOpener reads objects from moto's S3: whole, resumed after broken bodies, pinned by version and by
// ETag across a rewrite, and missing.
func TestMotoOpener(t *testing.T) {
	endpoint := testenv.URL(t, testenv.Moto)
	ctx := testenv.Context(t, 2*time.Minute)
	admin := s3Client(endpoint, http.DefaultTransport)
	bucket := testenv.UniqueName(t, "kinflow")
	if _, err := admin.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	data, text := flowLogObject(t, 30_000)
	const key = "AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/05/01/123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20240501T1005Z_fe123456.log.gz"
	put := func(body []byte) *s3.PutObjectOutput {
		t.Helper()
		out, err := admin.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	first := put(data)
	ref := ObjectRef{Bucket: bucket, Key: key, ETag: unquote(aws.ToString(first.ETag)), Size: int64(len(data))}

	t.Run("resumed read", func(t *testing.T) {
		c := &cutter{next: http.DefaultTransport, cuts: []int64{777, 20_000, 0}}
		o := newOpener(t, s3Client(endpoint, c), 5)
		rc, err := o.Open(ctx, ref)
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
		if n := c.count.Load(); n != 4 {
			t.Errorf("%d GetObject answers, want 4 (one open, three resumes)", n)
		}
	})
	t.Run("missing", func(t *testing.T) {
		o := newOpener(t, admin, 5)
		_, err := o.Open(ctx, ObjectRef{Bucket: bucket, Key: "nope"})
		wantReason(t, err, ReasonNotFound, true)
	})
	t.Run("rewritten: etag pin", func(t *testing.T) {
		put([]byte("rewritten\n"))
		o := newOpener(t, admin, 5)
		_, err := o.Open(ctx, ref)
		wantReason(t, err, ReasonObjectChanged, true)
	})
	t.Run("rewritten: version pin", func(t *testing.T) {
		if _, err := admin.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
			t.Fatal(err)
		}
		v1 := put(data)
		put([]byte("rewritten again\n"))
		c := &cutter{next: http.DefaultTransport, cuts: []int64{5000}}
		o := newOpener(t, s3Client(endpoint, c), 5)
		rc, err := o.Open(ctx, ObjectRef{Bucket: bucket, Key: key, VersionID: aws.ToString(v1.VersionId)})
		if err != nil {
			t.Fatal(err)
		}
		got, err := readObject(t, rc)
		if err != nil {
			t.Fatal(err)
		}
		if got != text {
			t.Fatalf("the pinned version read %d bytes of text, want %d", len(got), len(text))
		}
		_, err = o.Open(ctx, ObjectRef{Bucket: bucket, Key: key, VersionID: "no-such-version"})
		var e *Error
		if !errors.As(err, &e) || !e.Permanent() {
			t.Errorf("unknown version: %v, want a permanent *Error", err)
		} else if e.Reason != ReasonNotFound {
			t.Logf("moto answers an unknown version with %v", err)
		}
	})
}
