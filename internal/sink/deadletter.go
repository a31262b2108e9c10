package sink

import (
	"encoding/base64"
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/kinflow/kinflow/internal/docid"
)

// Stage names the step of the pipeline at which a dead letter was made.
type Stage string

// The stages, as stored in the dead letter's stage field.
const (
	StageDecode  Stage = "decode"  // a Kinesis record that is not a CloudWatch Logs envelope (gzip, JSON, size)
	StageParse   Stage = "parse"   // a log event whose line is not a flow log
	StageIndex   Stage = "index"   // a document the cluster refused (mapping or parse error)
	StageWebhook Stage = "webhook" // a webhook delivery that failed after its last attempt
	StageRead    Stage = "read"    // an S3 object that cannot be read to its end (corrupt gzip, unsupported kind, no header)
)

// Encodings of a dead letter's original field.
const (
	encodingUTF8   = "utf8"
	encodingBase64 = "base64"
)

// DeadLetterSource is the document stored in the dead-letter index (templates.go maps every field): what
// NewDeadLetter writes and the redrive reads back.
type DeadLetterSource struct {
	Timestamp        string `json:"@timestamp"`
	Stage            Stage  `json:"stage"`
	Reason           string `json:"reason"`
	Error            string `json:"error,omitempty"`
	ShardID          string `json:"shard_id,omitempty"`
	SequenceNumber   string `json:"sequence_number,omitempty"`
	LogGroup         string `json:"log_group,omitempty"`
	LogStream        string `json:"log_stream,omitempty"`
	EventID          string `json:"event_id,omitempty"`
	EventTimestamp   string `json:"event_timestamp,omitempty"`
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
	src := DeadLetterSource{
		Timestamp:      at.UTC().Format(time.RFC3339Nano),
		Stage:          stage,
		Reason:         reason,
		ShardID:        o.ShardID,
		SequenceNumber: o.SequenceNumber,
		LogGroup:       o.LogGroup,
		LogStream:      o.LogStream,
		EventID:        o.EventID,
		EventTimestamp: eventTimestamp(o.EventTimestamp),
		TargetIndex:    targetIndex,
		TargetID:       targetID,
	}
	if cause != nil {
		src.Error = cause.Error()
	}
	if len(o.Raw) > 0 {
		if utf8.Valid(o.Raw) {
			src.Original, src.OriginalEncoding = string(o.Raw), encodingUTF8
		} else {
			src.Original, src.OriginalEncoding = base64.StdEncoding.EncodeToString(o.Raw), encodingBase64
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

// eventTimestamp formats a CloudWatch Logs timestamp (milliseconds) as the date the index maps, to the millisecond
// so that a redrive reads back the exact value; "" (left out) when there is none.
func eventTimestamp(ms int64) string {
	if ms == 0 {
		return ""
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
