package pipeline

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinflow/kinflow/aggregate"
	"github.com/kinflow/kinflow/internal/format/lbtoken"
	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/prom"
	"github.com/kinflow/kinflow/internal/transport/cwlogs"
	"github.com/kinflow/kinflow/internal/transport/s3obj"
)

// metrics are the pipeline's counters, shared by its shards.
type metrics struct {
	records, control, events, flows, noTraffic, late, aggregated prometheus.Counter
	duplicates, doubleLogged                                     prometheus.Counter
	notAggregated, partials                                      prometheus.Counter
	badInput, retries                                            *prometheus.CounterVec
	writeSeconds                                                 prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "kinflow", Name: name, Help: help})
	}
	m := &metrics{
		records:       counter("records_total", "Kinesis records processed."),
		control:       counter("control_messages_total", "CloudWatch Logs CONTROL_MESSAGE records skipped."),
		events:        counter("log_events_total", "CloudWatch Logs events in the records processed."),
		flows:         counter("flows_total", "Flow documents written (NODATA and SKIPDATA records included)."),
		noTraffic:     counter("flows_no_traffic_total", "NODATA and SKIPDATA records written."),
		aggregated:    counter("flows_aggregated_total", "Flows added to partial connection sets."),
		late:          counter("flows_late_total", "Flows aggregated into windows already closed (event time)."),
		duplicates:    counter("flows_duplicate_total", "Flows another record had already delivered (the same payload twice): counted once, by the first."),
		doubleLogged:  counter("flows_double_logged_total", "Flows logged by the receiving interface of a connection the sending interface logs too: indexed, counted once in the connection sets, from the sender's record."),
		notAggregated: counter("flows_not_aggregated_total", "Indexed flows that carry no connection to aggregate (one address missing, or a time out of range)."),
		partials:      counter("partials_written_total", "Blocks of partial connection sets (documents) written."),
		badInput: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "kinflow", Name: "bad_input_total",
			Help: "Records and lines dead-lettered, by stage and reason."}, []string{"stage", "reason"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "kinflow", Name: "pipeline_retries_total",
			Help: "Transient failures the pipeline waited out, by cause."}, []string{"cause"}),
		writeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "kinflow", Name: "batch_write_seconds",
			Help: "Time until a batch's documents were durable.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
	}
	if err := prom.Register(reg, m.records, m.control, m.events, m.flows, m.noTraffic, m.aggregated,
		m.late, m.duplicates, m.doubleLogged, m.notAggregated, m.partials, m.badInput, m.retries, m.writeSeconds); err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	return m, nil
}

func (m *metrics) observe(r *Result) {
	m.records.Add(float64(r.Records))
	m.control.Add(float64(r.Control))
	m.events.Add(float64(r.Events))
	m.flows.Add(float64(r.Flows))
	m.noTraffic.Add(float64(r.NoTraffic))
	m.aggregated.Add(float64(r.Aggregated))
	m.late.Add(float64(r.Late))
	m.duplicates.Add(float64(r.Duplicates))
	m.doubleLogged.Add(float64(r.DoubleLogged))
}

// reasons are the short machine reasons stored in dead letters and used as metric labels, one per sentinel.
var reasons = []struct {
	err    error
	reason string
}{
	{cwlogs.ErrNotGzip, "not_gzip"},
	{cwlogs.ErrCorrupt, "corrupt_gzip"},
	{cwlogs.ErrTooLarge, "too_large"},
	{cwlogs.ErrMalformed, "malformed_envelope"},
	{cwlogs.ErrUnknownMessageType, "unknown_message_type"},
	{cwlogs.ErrTooManyEvents, "too_many_events"},
	{cwlogs.ErrUnrecognisedInput, "unrecognised_input"},
	{vpcflow.ErrFieldCount, "field_count"},
	{vpcflow.ErrInvalidValue, "invalid_value"},
	{vpcflow.ErrEmptyLine, "empty_line"},
	{aggregate.ErrInvalidFlow, "invalid_flow"},
	{ErrUnsupported, "unsupported_kind"},
	{ErrHeader, "bad_header"},
	{ErrTooLarge, "too_large"},
}

// ReasonOf is the reason a dead letter and the bad-input metric give err: the code of the sentinel it wraps, of an
// S3 object's error or of a load-balancer line's; "other" for anything else.
func ReasonOf(err error) string { return reasonOf(err) }

// reasonOf names the sentinel err wraps, or the reason code of an S3 object's or a load-balancer line's error;
// "other" keeps the label set bounded for anything unexpected.
func reasonOf(err error) string {
	var oerr *s3obj.Error
	if errors.As(err, &oerr) {
		return string(oerr.Reason)
	}
	var lerr *lbtoken.LineError
	if errors.As(err, &lerr) {
		return string(lerr.Reason)
	}
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return "other"
}
