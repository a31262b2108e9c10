package sink

import "fmt"

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
	// EventTimestamp is the CloudWatch Logs event's timestamp in milliseconds (0: none). It is part of a flow's id,
	// so a dead letter keeps it for a redrive to give the flow the id it would have had.
	EventTimestamp int64
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
