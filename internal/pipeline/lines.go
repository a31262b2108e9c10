package pipeline

import (
	"fmt"
	"strings"
	"time"

	"github.com/kinflow/kinflow/internal/enrich"
	"github.com/kinflow/kinflow/internal/format/alb"
	"github.com/kinflow/kinflow/internal/format/elb"
	"github.com/kinflow/kinflow/internal/format/nlb"
	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/retry"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/transport/s3obj"
)

// A LineDecoder turns the lines of one S3 object into documents: for a flow-log file its header first (the names of
// its fields, in every version and custom order AWS writes), then one document per line, in the index of the
// line's date. ObjectReader and `consumer decode` decode with it, so both read an object alike. Reuse it across
// objects with Reset; it allocates nothing per line.
type LineDecoder struct {
	kind     s3obj.Kind
	flows    dailyIndex
	lbs      dailyIndex
	enricher *enrich.Cache
	enriched enrich.Context
	x        *enrich.Context // the last flow's enrichment (&enriched), nil when none
	parser   *vpcflow.Parser // nil until a flow-log file's header is read
	flow     vpcflow.Flow
	enc      vpcflow.Encoder
	albR     alb.Record
	nlbR     nlb.Record
	elbR     elb.Record
	albE     alb.Encoder
	nlbE     nlb.Encoder
	elbE     elb.Encoder
}

// Readable reports whether kinflow reads objects of kind (ALB connection logs it routes but does not read yet).
func Readable(kind s3obj.Kind) bool {
	switch kind {
	case s3obj.KindVPCFlow, s3obj.KindVPCFlowParquet, s3obj.KindALB, s3obj.KindNLB, s3obj.KindELB:
		return true
	}
	return false
}

// NewLineDecoder returns a decoder of the documents of prefix, flows enriched by e (nil: none).
func NewLineDecoder(prefix string, e *enrich.Enricher) *LineDecoder {
	ix := sink.Indices{Prefix: prefix}
	return &LineDecoder{flows: newDailyIndex(ix.Flows), lbs: newDailyIndex(ix.LoadBalancers), enricher: e.NewCache()}
}

// Reset starts an object of kind; a kind Readable refuses is an error wrapping ErrUnsupported (permanent). A
// Parquet flow-log file is decoded as the text one its lines make (s3obj.ParquetLines).
func (d *LineDecoder) Reset(kind s3obj.Kind) error {
	if kind == s3obj.KindVPCFlowParquet {
		kind = s3obj.KindVPCFlow
	}
	d.kind, d.parser = kind, nil
	if !Readable(kind) {
		return retry.Permanent(fmt.Errorf("%w: %s: kinflow reads vpcflow, vpcflow-parquet, alb, nlb and elb objects", ErrUnsupported, kind))
	}
	return nil
}

// MissingHeader reports a flow-log file whose header has not been read: after its last line, a file with no line.
func (d *LineDecoder) MissingHeader() bool { return d.kind == s3obj.KindVPCFlow && d.parser == nil }

// Line decodes one line (src names it, for a flow-log file's documents) and appends its document to dst. index is
// the document's index; "" when the line was a flow-log header, which makes no document. A line that cannot be
// parsed is an error for that line alone; a header that names no fields is an error wrapping ErrHeader
// (permanent): no line of the file can be read.
func (d *LineDecoder) Line(dst, line []byte, src *vpcflow.Source) (out []byte, index string, err error) {
	switch d.kind {
	case s3obj.KindVPCFlow:
		if d.parser == nil {
			return dst, "", d.header(line)
		}
		if err := d.parser.Parse(&d.flow, src, string(line)); err != nil {
			return dst, "", err
		}
		f := &d.flow
		d.x = d.enricher.Fill(&d.enriched, f.SrcAddr, f.DstAddr, f.InterfaceID)
		return d.enc.AppendDocumentWith(dst, f, src, d.x), d.flows.at(f.EventTime(0)), nil
	case s3obj.KindALB:
		if err := alb.Parse(line, &d.albR); err != nil {
			return dst, "", err
		}
		return d.albE.AppendDocument(dst, &d.albR), d.lbs.at(unixSecond(d.albR.Time)), nil
	case s3obj.KindNLB:
		if err := nlb.Parse(line, &d.nlbR); err != nil {
			return dst, "", err
		}
		return d.nlbE.AppendDocument(dst, &d.nlbR), d.lbs.at(unixSecond(d.nlbR.Time)), nil
	case s3obj.KindELB:
		if err := elb.Parse(line, &d.elbR); err != nil {
			return dst, "", err
		}
		return d.elbE.AppendDocument(dst, &d.elbR), d.lbs.at(unixSecond(d.elbR.Timestamp)), nil
	}
	return dst, "", retry.Permanent(fmt.Errorf("%w: %s", ErrUnsupported, d.kind))
}

// FlowLog reports whether the object is a flow-log file (text or Parquet): its documents are flows (Flow).
func (d *LineDecoder) FlowLog() bool { return d.kind == s3obj.KindVPCFlow }

// SecondCopy reports whether the last flow is the receiving interface's copy of a connection both interfaces log
// (enrich.Context.SecondCopy).
func (d *LineDecoder) SecondCopy() bool { return d.x.SecondCopy(d.flow.Action == vpcflow.ActionReject) }

// Flow is the flow of the last line Line decoded from a flow-log file.
func (d *LineDecoder) Flow() *vpcflow.Flow { return &d.flow }

func (d *LineDecoder) header(line []byte) error {
	f, err := vpcflow.NewFormat(strings.Fields(string(line)))
	if err == nil {
		d.parser, err = vpcflow.NewParser(f)
	}
	if err != nil {
		return retry.Permanent(fmt.Errorf("%w: %q does not name the file's fields: %w", ErrHeader, clip(line), err))
	}
	return nil
}

func clip(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

// unixSecond is the Unix second of a load balancer's time in nanoseconds.
func unixSecond(ns int64) int64 { return time.Unix(0, ns).Unix() }
