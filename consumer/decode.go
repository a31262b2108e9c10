package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kinflow/kinflow/internal/docid"
	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/transport/cwlogs"
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
// output of `aws kinesis get-records`, or decompressed envelopes.
func runDecode(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("decode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fcfg := vpcflow.DefaultConfig()
	ccfg := cwlogs.DefaultConfig()
	var ovr overrides
	fs.StringVar(&fcfg.DefaultFormat, "format", fcfg.DefaultFormat, "flow-log `format` of log groups without an override (${field} string or names)")
	fs.Var(&ovr, "override", "`GROUP=FORMAT` or `PREFIX*=FORMAT` for some log groups (repeatable)")
	fs.IntVar(&ccfg.MaxDecompressedBytes, "max-decompressed", ccfg.MaxDecompressedBytes, "cap on one record's decompressed `bytes`")
	bulk := fs.Bool("bulk", false, "print each document after its bulk index action line (_index, _id), ready for POST _bulk")
	prefix := fs.String("index-prefix", "kinflow", "index name `prefix` for -bulk")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: consumer decode [flags] [file ...]\n\n"+
			"Prints the ECS documents of the records in the files (or stdin), one per line; errors go to stderr.\n"+
			"A file may hold raw gzip, base64 text, a Lambda Kinesis event, `aws kinesis get-records` output or envelopes.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	fcfg.Overrides = ovr
	res, err := vpcflow.NewResolver(fcfg, nil)
	if err != nil {
		return err
	}
	dec, err := cwlogs.NewDecoder(ccfg)
	if err != nil {
		return err
	}
	d := &decoding{res: res, dec: dec, out: bufio.NewWriter(stdout), errw: stderr, bulk: *bulk, prefix: *prefix}
	defer d.out.Flush()

	files := fs.Args()
	if len(files) == 0 {
		files = []string{"-"}
	}
	for _, name := range files {
		if err := d.file(ctx, name, stdin, ccfg.MaxDecompressedBytes); err != nil {
			return err
		}
	}
	s := dec.Stats()
	fmt.Fprintf(stderr, "decode: %d records (%d control messages skipped), %d events, %d documents (%d NODATA, %d SKIPDATA), %d errors\n",
		s.Records, s.ControlMessages, s.Events, d.docs, d.noData, d.skipData, d.errors)
	if d.errors > 0 {
		return fmt.Errorf("decode: %d records or lines could not be processed", d.errors)
	}
	return nil
}

type decoding struct {
	res                    *vpcflow.Resolver
	dec                    *cwlogs.Decoder
	out                    *bufio.Writer
	errw                   io.Writer
	bulk                   bool
	prefix                 string
	docs, noData, skipData int
	errors                 int
	env                    cwlogs.Envelope
	flow                   vpcflow.Flow
	enc                    vpcflow.Encoder
	buf                    []byte
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
	data, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	payloads, err := cwlogs.SplitInput(data, limit)
	if err != nil {
		d.fail(name, err)
		return nil
	}
	for _, p := range payloads {
		where := p.Origin
		if name != "-" {
			where = name + ": " + where
		}
		if p.SequenceNumber != "" {
			where += " (shard " + p.ShardID + ", sequence number " + p.SequenceNumber + ")"
		}
		if err := d.payload(ctx, where, p); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoding) fail(where string, err error) {
	d.errors++
	fmt.Fprintf(d.errw, "%s: %v\n", where, err)
}

func (d *decoding) payload(ctx context.Context, where string, p cwlogs.Payload) error {
	if err := d.dec.DecodePayload(&d.env, p); err != nil {
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
		switch d.flow.LogStatus {
		case vpcflow.LogStatusNoData:
			d.noData++
		case vpcflow.LogStatusSkipData:
			d.skipData++
		}
		d.buf = d.buf[:0]
		if d.bulk {
			// As the pipeline writes flows: create (immutable), into the daily index of the flow's event time.
			d.buf = append(d.buf, `{"create":{"_index":"`...)
			d.buf = append(d.buf, sink.Indices{Prefix: d.prefix}.Flows(time.Unix(d.flow.EventTime(ev.Timestamp), 0))...)
			d.buf = append(d.buf, `","_id":"`...)
			d.buf = docid.AppendFlow(d.buf, src.LogGroup, src.LogStream, src.EventID, src.Timestamp, []byte(ev.Message))
			d.buf = append(d.buf, "\"}}\n"...)
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
