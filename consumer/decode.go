package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kinflow/kinflow/internal/docid"
	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/pipeline"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/transport/cwlogs"
	"github.com/kinflow/kinflow/internal/transport/s3obj"
)

// overrides collects repeated -override flags.
type overrides []vpcflow.Override

func (o *overrides) String() string { return fmt.Sprint(*o) }

func (o *overrides) Set(v string) error {
	match, format, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want LOGGROUP=FORMAT or PREFIX*=FORMAT, got %q", v)
	}
	*o = append(*o, vpcflow.Override{Match: match, Format: format})
	return nil
}

// runDecode prints the documents the records in files (or stdin) produce, one JSON object per line; what cannot be
// decoded or parsed goes to stderr with its reason. Input can be raw gzip, base64 text, a Lambda Kinesis event, the
// output of `aws kinesis get-records`, or decompressed envelopes; or an S3 object as it lies in S3 (a flow-log file,
// an ALB, NLB or Classic ELB access log, gzip'd or plain), when -kind or -key says so or the file's name is one AWS
// log delivery writes (see s3Input.object).
func runDecode(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("decode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fcfg := vpcflow.DefaultConfig()
	ccfg := cwlogs.DefaultConfig()
	var ovr overrides
	var s3in s3Input
	fs.StringVar(&fcfg.DefaultFormat, "format", fcfg.DefaultFormat, "flow-log `format` of log groups without an override (${field} string or names); envelopes only: a flow-log file's header names its fields")
	fs.Var(&ovr, "override", "`GROUP=FORMAT` or `PREFIX*=FORMAT` for some log groups (repeatable); envelopes only")
	fs.Var(&s3in.kind, "kind", "read every input as an S3 object of this `kind`: "+kindValues()+"; or "+kindEnvelope+": every input as envelopes, none routed by its name")
	fs.StringVar(&s3in.key, "key", "", "read the input (one file, or stdin) as the S3 object `s3://BUCKET/KEY` (or KEY): its kind routed from the key as the S3 intake does (-kind overrides), its documents and -bulk ids named by it")
	fs.StringVar(&s3in.identity, "identity", "", "the S3 object's version id, else its ETag without quotes (`ID`): with -key, -bulk ids are those the S3 intake writes")
	fs.IntVar(&ccfg.MaxDecompressedBytes, "max-decompressed", ccfg.MaxDecompressedBytes, "cap on one record's decompressed `bytes`")
	bulk := fs.Bool("bulk", false, "print each document after its bulk index action line (_index, _id), ready for POST _bulk")
	prefix := fs.String("index-prefix", "kinflow", "index name `prefix` for -bulk")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: consumer decode [flags] [file ...]\n\n"+
			"Prints the ECS documents of the records in the files (or stdin), one per line; errors go to stderr.\n"+
			"A file may hold raw gzip, base64 text, a Lambda Kinesis event, `aws kinesis get-records` output or envelopes,\n"+
			"or be an S3 object as it lies in S3, gzip'd or plain: a VPC flow-log file (its first line the header\n"+
			"naming its fields), an ALB, NLB or Classic ELB access log.\n\n"+
			"An input is an S3 object when -kind "+kindValues()+" or -key is given, or when it is a file whose path\n"+
			"routes as the S3 intake routes keys: a path with the AWSLogs/ folders, or a base name as AWS log delivery\n"+
			"writes it (<account>_vpcflowlogs_<region>_<flow-log-id>_<time>_<hash>.log.gz, or\n"+
			"<account>_elasticloadbalancing_<region>_<load-balancer-id>_<time>_[<ip>_]<random>.log[.gz]). Stdin and\n"+
			"every other file are envelopes; -kind "+kindEnvelope+" makes every input envelopes.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	fcfg.Overrides = ovr
	files := fs.Args()
	if len(files) == 0 {
		files = []string{"-"}
	}
	if err := s3in.setup(len(files)); err != nil {
		if errors.Is(err, errNoRoute) {
			return err
		}
		fmt.Fprintln(stderr, "decode:", err)
		return errUsage
	}
	res, err := vpcflow.NewResolver(fcfg, nil)
	if err != nil {
		return err
	}
	dec, err := cwlogs.NewDecoder(ccfg)
	if err != nil {
		return err
	}
	d := &decoding{res: res, dec: dec, s3: &s3in, out: bufio.NewWriter(stdout), errw: stderr, bulk: *bulk,
		indices: sink.Indices{Prefix: *prefix}}
	defer d.out.Flush()

	for _, name := range files {
		if err := d.file(ctx, name, stdin, ccfg.MaxDecompressedBytes); err != nil {
			return err
		}
	}
	s := dec.Stats()
	fmt.Fprint(stderr, "decode: ")
	if d.envelopeInputs > 0 || d.objects == 0 {
		fmt.Fprintf(stderr, "%d records (%d control messages skipped), %d events, ", s.Records, s.ControlMessages, s.Events)
	}
	if d.objects > 0 {
		fmt.Fprintf(stderr, "%d S3 objects, %d lines, ", d.objects, d.objectLines)
	}
	fmt.Fprintf(stderr, "%d documents (%d NODATA, %d SKIPDATA), %d errors\n", d.docs, d.noData, d.skipData, d.errors)
	if d.errors > 0 {
		return fmt.Errorf("decode: %d records or lines could not be processed", d.errors)
	}
	return nil
}

type decoding struct {
	res                    *vpcflow.Resolver
	dec                    *cwlogs.Decoder
	s3                     *s3Input
	indices                sink.Indices
	out                    *bufio.Writer
	errw                   io.Writer
	bulk                   bool
	docs, noData, skipData int
	errors                 int
	env                    cwlogs.Envelope
	flow                   vpcflow.Flow
	enc                    vpcflow.Encoder
	buf                    []byte

	envelopeInputs, objects int
	objectLines             int64
	lines                   *s3obj.Lines          // one reader for every object, Reset for the next
	lineDec                 *pipeline.LineDecoder // S3 objects, Reset for the next
	doc                     []byte
}

func (d *decoding) file(ctx context.Context, name string, stdin io.Reader, limit int) error {
	r := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	obj, notObjectWhy := d.s3.object(name)
	if obj != nil {
		return d.object(ctx, obj, r)
	}
	d.envelopeInputs++
	data, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	payloads, err := cwlogs.SplitInput(data, limit)
	if err != nil {
		d.fail(name, notObject(err, notObjectWhy))
		return nil
	}
	// One raw gzip payload that is not an envelope may be an S3 object under a name of no known layout.
	whole := len(payloads) == 1 && payloads[0].Origin == "input" && payloads[0].Compressed
	for _, p := range payloads {
		where := p.Origin
		if name != "-" {
			where = name + ": " + where
		}
		if p.SequenceNumber != "" {
			where += " (shard " + p.ShardID + ", sequence number " + p.SequenceNumber + ")"
		}
		hint := ""
		if whole {
			hint = notObjectWhy
		}
		if err := d.payload(ctx, where, p, hint); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoding) fail(where string, err error) {
	d.errors++
	fmt.Fprintf(d.errw, "%s: %v\n", where, err)
}

// payload prints the documents of one record; notObjectWhy, when set, is why the input is not an S3 object, said
// when the record is not an envelope.
func (d *decoding) payload(ctx context.Context, where string, p cwlogs.Payload, notObjectWhy string) error {
	if err := d.dec.DecodePayload(&d.env, p); err != nil {
		if notObjectWhy != "" {
			err = notObject(err, notObjectWhy)
		}
		d.fail(where, err)
		return nil
	}
	if d.env.IsControl() {
		fmt.Fprintf(d.errw, "%s: CONTROL_MESSAGE skipped\n", where)
		return nil
	}
	parser, err := d.res.Parser(ctx, d.env.LogGroup)
	if err != nil {
		return err
	}
	for _, ev := range d.env.LogEvents {
		src := vpcflow.Source{LogGroup: d.env.LogGroup, LogStream: d.env.LogStream, EventID: ev.ID, Timestamp: ev.Timestamp}
		if err := parser.Parse(&d.flow, &src, ev.Message); err != nil {
			d.fail(where, err)
			continue
		}
		d.count(&d.flow)
		d.buf = d.buf[:0]
		if d.bulk {
			// As the pipeline writes flows: create (immutable), into the daily index of the flow's event time.
			d.buf = appendCreate(d.buf, d.indices.Flows(time.Unix(d.flow.EventTime(ev.Timestamp), 0)), func(dst []byte) []byte {
				return docid.AppendFlow(dst, src.LogGroup, src.LogStream, src.EventID, src.Timestamp, []byte(ev.Message))
			})
		}
		d.buf = d.enc.AppendDocument(d.buf, &d.flow, &src)
		d.buf = append(d.buf, '\n')
		if _, err := d.out.Write(d.buf); err != nil {
			return err
		}
		d.docs++
	}
	return nil
}

// count counts the NODATA and SKIPDATA records among the documents printed.
func (d *decoding) count(f *vpcflow.Flow) {
	switch f.LogStatus {
	case vpcflow.LogStatusNoData:
		d.noData++
	case vpcflow.LogStatusSkipData:
		d.skipData++
	}
}

// appendCreate appends the _bulk action line that creates a document in index, its id appended by appendID.
func appendCreate(dst []byte, index string, appendID func([]byte) []byte) []byte {
	dst = append(dst, `{"create":{"_index":"`...)
	dst = append(dst, index...)
	dst = append(dst, `","_id":"`...)
	dst = appendID(dst)
	return append(dst, "\"}}\n"...)
}
