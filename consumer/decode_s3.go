// decode_s3.go owns `consumer decode` on S3 objects as they lie in S3 (a file or stdin, gzip'd or plain): which
// inputs are objects and of what kind (-kind, -key or the file's name, routed as the S3 intake routes keys), and
// reading their lines into documents the way internal/pipeline's ObjectReader does.

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kinflow/kinflow/internal/docid"
	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/pipeline"
	"github.com/kinflow/kinflow/internal/retry"
	"github.com/kinflow/kinflow/internal/transport/s3obj"
)

// kindEnvelope is the -kind that turns routing off: every input is read as CloudWatch Logs envelopes.
const kindEnvelope = "envelope"

// decodeKinds are the object kinds decode reads: those the S3 intake reads.
var decodeKinds = []s3obj.Kind{s3obj.KindVPCFlow, s3obj.KindALB, s3obj.KindNLB, s3obj.KindELB}

func kindValues() string {
	s := make([]string, len(decodeKinds))
	for i, k := range decodeKinds {
		s[i] = string(k)
	}
	return strings.Join(s, "|")
}

// kindFlag is -kind: an object kind, or envelope.
type kindFlag struct {
	kind     s3obj.Kind
	envelope bool
}

func (k *kindFlag) String() string {
	if k.envelope {
		return kindEnvelope
	}
	return string(k.kind)
}

func (k *kindFlag) Set(v string) error {
	switch {
	case v == kindEnvelope:
		*k = kindFlag{envelope: true}
	case slices.Contains(decodeKinds, s3obj.Kind(v)):
		*k = kindFlag{kind: s3obj.Kind(v)}
	default:
		return fmt.Errorf("want %s or %s, got %q", kindValues(), kindEnvelope, v)
	}
	return nil
}

// errNoRoute is the error of a -key that routes to no log kind: the key's problem, not the command line's.
var errNoRoute = errors.New("-key routes to no log kind")

// s3Input is what decides which inputs are S3 objects and names them: the -kind, -key and -identity flags.
type s3Input struct {
	kind     kindFlag
	key      string // -key as given: s3://bucket/key or a key
	identity string

	bucket, objKey string
	keyRoute       s3obj.Route // -key routed, when -kind does not say
	router         *s3obj.Router
}

// setup checks the flags together and routes -key; an error here is the command line's, but errNoRoute.
func (s *s3Input) setup(inputs int) error {
	var err error
	if s.router, err = s3obj.NewRouter(s3obj.DefaultConfig()); err != nil {
		return err
	}
	if s.key == "" {
		return nil
	}
	if s.kind.envelope {
		return fmt.Errorf("-key reads an S3 object, -kind %s envelopes: give one of them", kindEnvelope)
	}
	if inputs > 1 {
		return errors.New("-key names one object: give one file, or none to read stdin")
	}
	s.objKey = s.key
	if rest, ok := strings.CutPrefix(s.key, "s3://"); ok {
		var found bool
		if s.bucket, s.objKey, found = strings.Cut(rest, "/"); !found || s.bucket == "" || s.objKey == "" {
			return fmt.Errorf("-key %q: want s3://BUCKET/KEY or KEY", s.key)
		}
	}
	if s.kind.kind != "" {
		return nil
	}
	if s.keyRoute, err = s.router.Route(s.bucket, s.objKey); err != nil {
		return fmt.Errorf("%w: %s: %s; give -kind %s to read the object as one of these", errNoRoute, s.key, routeWhy(err), kindValues())
	}
	return nil
}

// An object is an input read as an S3 object.
type object struct {
	input                 string // the file, or "stdin": what error lines name
	bucket, key, identity string // what ids are made of
	path                  string // the documents' log.file.path: s3://bucket/key, the key, or the file
	kind                  s3obj.Kind
	how                   string // how the kind was decided
}

// object says whether the input name ("-" for stdin) is an S3 object, and which, or why it is not one by its
// name (for the error of an input that is not envelopes either). The rule: with -kind KIND or -key every input is
// an object, with -kind envelope none is; otherwise a file is one when its path routes as an AWS log key.
func (s *s3Input) object(name string) (*object, string) {
	if s.kind.envelope {
		return nil, "-kind " + kindEnvelope + " reads every input as envelopes"
	}
	obj := &object{input: name, path: name, identity: s.identity}
	if name == "-" {
		obj.input, obj.path = "stdin", "stdin"
	}
	obj.key = filepath.ToSlash(obj.path)
	if s.key != "" {
		obj.bucket, obj.key, obj.path = s.bucket, s.objKey, s.objKey
		if s.bucket != "" {
			obj.path = "s3://" + s.bucket + "/" + s.objKey
		}
		obj.kind, obj.how = s.keyRoute.Kind, "-key"
	}
	switch {
	case s.kind.kind != "":
		obj.kind, obj.how = s.kind.kind, "-kind"
		return obj, ""
	case s.key != "":
		return obj, ""
	case name == "-":
		return nil, "stdin has no name to route by"
	}
	rt, err := routeFile(s.router, name)
	if err != nil {
		return nil, err.Error()
	}
	obj.kind, obj.how = rt.Kind, "its file name"
	return obj, ""
}

// routeFile routes a file by its path as the S3 intake routes a key: the path itself when it holds the AWSLogs/
// folders (a bucket copied with `aws s3 cp --recursive`), else the key AWS would have put the file's base name
// under (the name repeats the account, service, region and date of the folders). A flow-log file gunzipped by
// hand (.log for .log.gz) routes as its .gz would.
func routeFile(router *s3obj.Router, path string) (s3obj.Route, error) {
	slashed := filepath.ToSlash(path)
	var why []string
	if strings.Contains(slashed, "AWSLogs/") {
		rt, err := router.Route("", slashed)
		if err == nil {
			return rt, nil
		}
		why = append(why, "path: "+routeWhy(err))
	}
	base := filepath.Base(path)
	names := []string{base}
	if strings.HasSuffix(base, ".log") {
		names = append(names, base+".gz")
	}
	for i, n := range names {
		key, ok := awsKeyOf(n)
		if !ok {
			why = append(why, "file name "+base+" is not one AWS log delivery writes "+
				"(<account>_vpcflowlogs_<region>_<flow-log-id>_<time>_<hash>.log.gz or "+
				"<account>_elasticloadbalancing_<region>_<load-balancer-id>_<time>_...log[.gz])")
			break
		}
		rt, err := router.Route("", key)
		if err == nil {
			return rt, nil
		}
		if i == 0 {
			why = append(why, "file name: "+routeWhy(err))
		}
	}
	return s3obj.Route{}, errors.New(strings.Join(why, "; "))
}

// awsKeyOf returns the key AWS log delivery puts the file name under: AWSLogs/<account>/<service>/<region>/
// YYYY/MM/DD/<name>, from the name's own parts, for the router to check.
func awsKeyOf(name string) (string, bool) {
	bare, ok := strings.CutPrefix(name, "conn_log_")
	if !ok {
		bare = strings.TrimPrefix(name, "conn_log.")
	}
	f := strings.SplitN(bare, "_", 6)
	if len(f) < 6 || len(f[4]) < 8 || f[0] == "" || f[1] == "" || f[2] == "" {
		return "", false
	}
	t := f[4]
	return "AWSLogs/" + f[0] + "/" + f[1] + "/" + f[2] + "/" + t[:4] + "/" + t[4:6] + "/" + t[6:8] + "/" + name, true
}

// routeWhy is the router's reason without its advice to the intake's operator (an override), which decode's
// flags replace.
func routeWhy(err error) string {
	var e *s3obj.Error
	if !errors.As(err, &e) || e.Detail == "" {
		return err.Error()
	}
	why, _, _ := strings.Cut(e.Detail, "; add an Override")
	return why
}

// notObject is the error of an input that is neither envelopes nor an S3 object by its name: what was tried, and
// the flags that read it as an object.
func notObject(err error, why string) error {
	return fmt.Errorf("%w; not an S3 log object by its name either (%s): to read it as one give -kind %s, or -key with its S3 key",
		err, why, kindValues())
}

// ctxCheckLines is how often (in lines) reading an object looks whether the command was interrupted.
const ctxCheckLines = 4096

// object prints the documents of the object obj read from r, as the S3 intake makes them (pipeline.ObjectReader):
// a flow-log file's first line is its header, every other line one document; a bad line is reported with its
// number and reading goes on. Only a failure to read the input is returned; what is wrong with the object is
// counted and reported.
func (d *decoding) object(ctx context.Context, obj *object, r io.Reader) error {
	if !slices.Contains(decodeKinds, obj.kind) {
		d.fail(obj.input, fmt.Errorf("%s routes it as %s, which kinflow does not read; give -kind %s to read it as one of these",
			obj.how, obj.kind, kindValues()))
		return nil
	}
	if d.lines == nil {
		var err error
		if d.lines, err = s3obj.NewLines(r, s3obj.DefaultConfig()); err != nil {
			return err
		}
	} else {
		d.lines.Reset(r)
	}
	d.objects++
	if d.lineDec == nil {
		d.lineDec = pipeline.NewLineDecoder(d.indices.Prefix, nil)
	}
	if err := d.lineDec.Reset(obj.kind); err != nil {
		d.fail(obj.input, err)
		return nil
	}
	for d.lines.Next() {
		n := d.lines.Number()
		d.objectLines++
		if n%ctxCheckLines == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		where := fmt.Sprintf("%s: line %d", obj.input, n)
		if err := d.lines.LineErr(); err != nil {
			d.fail(where, err)
			continue
		}
		src := vpcflow.Source{File: obj.path, Offset: d.lines.Offset()}
		d.doc = d.doc[:0]
		var index string
		var err error
		d.doc, index, err = d.lineDec.Line(d.doc, d.lines.Bytes(), &src)
		switch {
		case errors.Is(err, pipeline.ErrHeader):
			d.fail(where, err) // no line of the file can be read without it
			return nil
		case err != nil:
			d.fail(where, err)
			continue
		case index == "":
			continue // the header
		}
		if d.lineDec.FlowLog() {
			d.count(d.lineDec.Flow())
		}
		d.buf = d.buf[:0]
		if d.bulk {
			// As the S3 intake writes them: create (immutable), named by bucket, key, identity and line number.
			d.buf = appendCreate(d.buf, index, func(dst []byte) []byte {
				return docid.AppendObjectLine(dst, obj.bucket, obj.key, obj.identity, n)
			})
		}
		d.buf = append(append(d.buf, d.doc...), '\n')
		if _, err := d.out.Write(d.buf); err != nil {
			return err
		}
		d.docs++
	}
	if err := d.lines.Err(); err != nil {
		if !retry.IsPermanent(err) {
			return fmt.Errorf("reading %s: %w", obj.input, err)
		}
		d.fail(obj.input, err) // a corrupt or truncated gzip stream: the lines before it were printed
	}
	if d.lineDec.MissingHeader() && d.lines.Err() == nil {
		d.fail(obj.input, errors.New("flow-log file without a header line: want the field names AWS writes first (version account-id ...)"))
	}
	return nil
}
