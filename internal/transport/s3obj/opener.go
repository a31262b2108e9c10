// opener.go owns fetching an object: the ObjectRef and its identity, the Opener seam, and its S3 implementation
// that pins the announced version, resumes a broken download with a Range request, and classifies S3's errors.

package s3obj

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/kinflow/kinflow/internal/retry"
)

// An ObjectRef names one version of an object, as a notification announced it.
type ObjectRef struct {
	Bucket    string
	Key       string // decoded: the key as S3 stores it
	VersionID string // empty in an unversioned bucket
	ETag      string // without quotes
	Size      int64
	Sequencer string // orders the events of one key: a greater sequencer is a later event
}

// Identity returns what names this content of the object for good: the version id when the bucket is versioned,
// otherwise the ETag. Document ids are made from it (with bucket, key and line number), so that reading the same
// object twice (a redelivered message, a retry) yields the same ids, and a rewritten object new ones.
func (o ObjectRef) Identity() string {
	if o.VersionID != "" {
		return o.VersionID
	}
	return o.ETag
}

// URI is the object's address as people write it, s3://bucket/key: what names it in documents and dead letters.
func (o ObjectRef) URI() string { return "s3://" + o.Bucket + "/" + o.Key }

// An Opener opens an object for reading. The reader yields each byte of the announced version once, or fails
// with an *Error.
type Opener interface {
	Open(ctx context.Context, obj ObjectRef) (io.ReadCloser, error)
}

// GetObjectAPI is the part of *s3.Client an S3Opener uses.
type GetObjectAPI interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

var (
	_ Opener       = (*S3Opener)(nil)
	_ GetObjectAPI = (*s3.Client)(nil)
)

// S3Opener opens objects with GetObject. It is safe for concurrent use.
type S3Opener struct {
	client GetObjectAPI
	cfg    Config
	sleep  func(context.Context, time.Duration) error // tests make it instant
}

// NewS3Opener returns an opener over client, or every problem of cfg (MaxReopens and the backoffs matter to it).
func NewS3Opener(client GetObjectAPI, cfg Config) (*S3Opener, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if client == nil {
		return nil, errors.New("s3obj: NewS3Opener: client is nil")
	}
	return &S3Opener{client: client, cfg: cfg, sleep: retry.Sleep}, nil
}

// Open starts reading obj. It pins the announced content: by VersionId when obj has one, else by If-Match on its
// ETag, else by the ETag of the first answer; a read that breaks is resumed from the byte it reached with the
// same pin, so a rewritten object is noticed (ReasonObjectChanged) instead of being read half old, half new.
//
// ctx governs the whole read, resumes included, and so must outlive the reader: the SDK ties the response body
// to the context of its request, so no per-request deadline can be set here without cutting a long read short.
// Bound the read with ctx, and each connection with the HTTP client's timeouts.
func (o *S3Opener) Open(ctx context.Context, obj ObjectRef) (io.ReadCloser, error) {
	r := &objectReader{ctx: ctx, o: o, obj: obj, size: -1, etag: obj.ETag}
	out, err := o.get(ctx, obj, r.etag, 0)
	if err != nil {
		return nil, classify(ctx, err, obj, 0)
	}
	r.body = out.Body
	if out.ContentLength != nil {
		r.size = *out.ContentLength
	}
	if r.etag == "" && obj.VersionID == "" {
		r.etag = unquote(aws.ToString(out.ETag))
	}
	return r, nil
}

func (o *S3Opener) get(ctx context.Context, obj ObjectRef, etag string, off int64) (*s3.GetObjectOutput, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(obj.Bucket), Key: aws.String(obj.Key)}
	switch {
	case obj.VersionID != "":
		in.VersionId = aws.String(obj.VersionID)
	case etag != "":
		in.IfMatch = aws.String(`"` + etag + `"`)
	}
	if off > 0 {
		in.Range = aws.String("bytes=" + strconv.FormatInt(off, 10) + "-")
	}
	return o.client.GetObject(ctx, in)
}

// objectReader is an object's body that resumes itself after a broken connection.
type objectReader struct {
	ctx     context.Context // the Open call's; a reader has no other way to learn of cancellation
	o       *S3Opener
	obj     ObjectRef
	etag    string // the pin of resumes when there is no version id
	body    io.ReadCloser
	off     int64 // bytes delivered
	size    int64 // from the first answer; -1 when unknown
	reopens int
	cause   error // what broke the last body
	err     error // sticky: io.EOF or the *Error that ended the read
}

func (r *objectReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	for {
		if r.body == nil {
			if err := r.reopen(); err != nil {
				r.err = err
				return 0, err
			}
		}
		n, err := r.body.Read(p)
		r.off += int64(n)
		if err == nil {
			return n, nil
		}
		if err == io.EOF {
			if r.size < 0 || r.off >= r.size {
				r.err = io.EOF
				return n, io.EOF
			}
			err = io.ErrUnexpectedEOF // the connection ended before Content-Length
		}
		r.body.Close()
		r.body, r.cause = nil, err
		if n > 0 {
			return n, nil // resume on the next Read
		}
	}
}

// reopen resumes at r.off with a Range request under the same pin, after a backoff, up to MaxReopens times.
func (r *objectReader) reopen() error {
	for {
		if cerr := r.ctx.Err(); cerr != nil {
			return r.readErr(ReasonTransient, "context ended", cerr)
		}
		if r.reopens >= r.o.cfg.MaxReopens {
			return r.readErr(ReasonTransient, fmt.Sprintf("gave up after %d resumes", r.reopens), r.cause)
		}
		r.reopens++
		if err := r.o.sleep(r.ctx, backoff(r.o.cfg, r.reopens)); err != nil {
			return r.readErr(ReasonTransient, "context ended", err)
		}
		out, err := r.o.get(r.ctx, r.obj, r.etag, r.off)
		if err != nil {
			e := classify(r.ctx, err, r.obj, r.off)
			e.Op = "read"
			if e.Permanent() {
				return e
			}
			r.cause = err
			continue
		}
		// A server that ignored the Range would send the object from byte 0, and each byte before off twice.
		if want := "bytes " + strconv.FormatInt(r.off, 10) + "-"; !strings.HasPrefix(aws.ToString(out.ContentRange), want) {
			out.Body.Close()
			return r.readErr(ReasonTransient, fmt.Sprintf("resume answered Content-Range %q, want %q...",
				aws.ToString(out.ContentRange), want), nil)
		}
		r.body = out.Body
		return nil
	}
}

func (r *objectReader) readErr(reason Reason, detail string, cause error) *Error {
	e := newError("read", reason, detail)
	e.Bucket, e.Key, e.Offset, e.Err = r.obj.Bucket, r.obj.Key, r.off, cause
	return e
}

func (r *objectReader) Close() error {
	if r.err == nil {
		r.err = errors.New("s3obj: read after Close")
	}
	if r.body != nil {
		err := r.body.Close()
		r.body = nil
		return err
	}
	return nil
}

// backoff is the pause before resume n (1-based): doubling from ReopenBackoff up to MaxReopenBackoff, with jitter
// over its upper half so that readers broken together do not come back together.
func backoff(cfg Config, n int) time.Duration {
	d := cfg.ReopenBackoff << min(n-1, 30)
	if d <= 0 || d > cfg.MaxReopenBackoff {
		d = cfg.MaxReopenBackoff
	}
	return d/2 + rand.N(d/2+1)
}

// S3 error codes by what they mean for a retry.
var (
	notFoundCodes  = []string{"NoSuchKey", "NoSuchBucket", "NoSuchVersion", "MethodNotAllowed"} // the last: a delete marker
	transientCodes = []string{"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestTimeTooSkewed",
		"InternalError", "ServiceUnavailable", "RequestLimitExceeded", "TooManyRequestsException"}
)

// classify turns an error of GetObject into an *Error: missing objects and refused access are permanent (a retry
// meets the same answer), a changed object is ReasonObjectChanged, and throttling, 5xx, timeouts and network
// failures are transient. An error that says nothing is taken as transient, so nothing is dead-lettered on a guess.
func classify(ctx context.Context, err error, obj ObjectRef, off int64) *Error {
	var code string
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	var reason Reason
	switch {
	case ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		reason = ReasonTransient
	case code == "PreconditionFailed" || status == 412:
		reason = ReasonObjectChanged
	case slices.Contains(notFoundCodes, code) || status == 404:
		reason = ReasonNotFound
	case code == "AccessDenied" || code == "AllAccessDisabled" || code == "InvalidAccessKeyId" ||
		code == "SignatureDoesNotMatch" || code == "" && status == 403:
		reason = ReasonAccessDenied
	case slices.Contains(transientCodes, code) || status == 429 || status >= 500:
		reason = ReasonTransient
	case status >= 400:
		reason = ReasonS3Rejected
	default: // timeouts, resets, DNS: a new connection may succeed
		reason = ReasonTransient
	}
	e := newError("open", reason, describeAPI(code, status))
	e.Bucket, e.Key, e.Err = obj.Bucket, obj.Key, err
	if off > 0 {
		e.Offset = off
	}
	return e
}

func describeAPI(code string, status int) string {
	switch {
	case code != "" && status != 0:
		return fmt.Sprintf("%s (HTTP %d)", code, status)
	case code != "":
		return code
	case status != 0:
		return fmt.Sprintf("HTTP %d", status)
	}
	return ""
}
