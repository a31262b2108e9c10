package sink

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/kinflow/kinflow/internal/docid"
)

// Op is the bulk action a document is written with.
type Op uint8

const (
	// OpCreate writes a document only if its id is new. Raw flows and dead letters are immutable, so a version
	// conflict (409) on create means an earlier attempt already wrote it: success.
	OpCreate Op = iota + 1
	// OpIndex writes or overwrites. Partial rollups (a replay rewrites identical content) and final rollups (revised
	// when late flows arrive) use it.
	OpIndex
)

func (o Op) String() string {
	switch o {
	case OpCreate:
		return "create"
	case OpIndex:
		return "index"
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// Origin says where a document came from, so that a document the cluster rejects can be dead-lettered with the
// record it was made from. All fields are optional; the more are set, the easier the dead letter is to trace.
type Origin struct {
	ShardID        string
	SequenceNumber string
	LogGroup       string
	LogStream      string
	EventID        string
	// Raw is the original input (a flow-log line, or a record's bytes). The sink copies it; the caller may reuse it
	// once Write returns.
	Raw []byte
}

// A Doc is one document to write. Source is the complete, already encoded JSON object on one line (no newline
// characters; a source with newlines is compacted, and one that is not JSON is dead-lettered without being sent).
type Doc struct {
	Index  string
	ID     string
	Op     Op
	Source []byte
	Origin Origin
	// Outcome, when set, receives what became of the document; read it only after Write returned nil. After Write
	// returned an error, requests still in flight may write it until they end: do not reuse its memory for another
	// Write (the pipeline abandons a shard whose write failed).
	Outcome *Outcome
}

// Outcome is what became of a written document.
type Outcome uint8

const (
	OutcomeUnknown      Outcome = iota // not reported (Write failed, or nobody asked)
	OutcomeWritten                     // created or indexed
	OutcomeExists                      // OpCreate answered 409: a document with its id was already there
	OutcomeDeadLettered                // refused by the cluster; written to the dead-letter index instead
)

// Stage names the step of the pipeline at which a dead letter was made.
type Stage string

// The stages, as stored in the dead letter's stage field.
const (
	StageDecode  Stage = "decode"  // a Kinesis record that is not a CloudWatch Logs envelope (gzip, JSON, size)
	StageParse   Stage = "parse"   // a log event whose line is not a flow log
	StageIndex   Stage = "index"   // a document the cluster refused (mapping or parse error)
	StageWebhook Stage = "webhook" // a webhook delivery that failed after its last attempt
)

// Original encodings of a dead letter's original field.
const (
	EncodingUTF8   = "utf8"
	EncodingBase64 = "base64"
)

// deadLetterSource is the document stored in the dead-letter index; templates.go maps every field.
type deadLetterSource struct {
	Timestamp        string `json:"@timestamp"`
	Stage            Stage  `json:"stage"`
	Reason           string `json:"reason"`
	Error            string `json:"error,omitempty"`
	ShardID          string `json:"shard_id,omitempty"`
	SequenceNumber   string `json:"sequence_number,omitempty"`
	LogGroup         string `json:"log_group,omitempty"`
	LogStream        string `json:"log_stream,omitempty"`
	EventID          string `json:"event_id,omitempty"`
	TargetIndex      string `json:"target_index,omitempty"`
	TargetID         string `json:"target_id,omitempty"`
	Original         string `json:"original,omitempty"`
	OriginalEncoding string `json:"original_encoding,omitempty"`
}

// NewDeadLetter returns the dead-letter document for input that failed at stage: reason is a short machine reason
// (mapper_parsing_exception, not_gzip, field_count), cause the full error. It goes to index (Indices.DeadLetter)
// with op create and the id docid.DeadLetter(shard, sequence number, stage/event id), so a replay of the same
// failure leaves one dead letter. The original is stored as text when it is valid UTF-8, else as base64.
func NewDeadLetter(index string, o Origin, stage Stage, reason string, cause error, at time.Time) Doc {
	return newDeadLetter(index, o, stage, reason, cause, at, "", "")
}

func newDeadLetter(index string, o Origin, stage Stage, reason string, cause error, at time.Time, targetIndex, targetID string) Doc {
	item := string(stage) + "/" + o.EventID
	if targetID != "" {
		item = string(stage) + "/" + targetIndex + "/" + targetID
	}
	src := deadLetterSource{
		Timestamp:      at.UTC().Format(time.RFC3339Nano),
		Stage:          stage,
		Reason:         reason,
		ShardID:        o.ShardID,
		SequenceNumber: o.SequenceNumber,
		LogGroup:       o.LogGroup,
		LogStream:      o.LogStream,
		EventID:        o.EventID,
		TargetIndex:    targetIndex,
		TargetID:       targetID,
	}
	if cause != nil {
		src.Error = cause.Error()
	}
	if len(o.Raw) > 0 {
		if utf8.Valid(o.Raw) {
			src.Original, src.OriginalEncoding = string(o.Raw), EncodingUTF8
		} else {
			src.Original, src.OriginalEncoding = base64.StdEncoding.EncodeToString(o.Raw), EncodingBase64
		}
	}
	body, err := json.Marshal(src)
	if err != nil {
		// Marshalling a struct of strings cannot fail; keep a valid document if it ever does.
		body = []byte(`{"reason":"marshal_failed"}`)
	}
	return Doc{
		Index:  index,
		ID:     docid.DeadLetter(o.ShardID, o.SequenceNumber, item),
		Op:     OpCreate,
		Source: body,
		Origin: o,
	}
}

// Indices computes index names from a prefix; daily indices are named by the UTC date of the event time.
type Indices struct{ Prefix string }

// DefaultPrefix is the index prefix when none is configured.
const DefaultPrefix = "kinflow"

const dayLayout = "2006.01.02"

// Flows returns the raw flow index for a flow that started at t: <prefix>-flows-YYYY.MM.DD.
func (ix Indices) Flows(t time.Time) string { return ix.daily("-flows-", t) }

// ConnsPartial returns the partial rollup index for a window that starts at t.
func (ix Indices) ConnsPartial(t time.Time) string { return ix.daily("-conns-partial-", t) }

// Conns returns the final rollup index for a window that starts at t.
func (ix Indices) Conns(t time.Time) string { return ix.daily("-conns-", t) }

// DeadLetter returns the dead-letter index: one index, not daily, because dead letters are few and read by hand.
func (ix Indices) DeadLetter() string { return ix.prefix() + "-deadletter" }

func (ix Indices) prefix() string {
	if ix.Prefix == "" {
		return DefaultPrefix
	}
	return ix.Prefix
}

func (ix Indices) daily(kind string, t time.Time) string {
	p := ix.prefix()
	b := make([]byte, 0, len(p)+len(kind)+len(dayLayout))
	b = append(b, p...)
	b = append(b, kind...)
	b = t.UTC().AppendFormat(b, dayLayout)
	return string(b)
}

// family strips a daily index's date suffix, so metrics carry one label value per kind of index, not one per day.
func family(index string) string {
	const n = len("-2006.01.02")
	if len(index) > n && index[len(index)-n] == '-' && index[len(index)-3] == '.' && index[len(index)-6] == '.' {
		return index[:len(index)-n]
	}
	return index
}
