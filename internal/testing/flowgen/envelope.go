package flowgen

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
)

// Envelope returns the Kinesis record data CloudWatch Logs would deliver for batch: the gzip'd JSON envelope of a
// DATA_MESSAGE from logGroup, owned by the generator's account, through the subscription filter named filter.
// It uses the standard library on purpose: it is the reference the decoders are checked against.
func (g *Generator) Envelope(logGroup, filter string, b Batch) []byte {
	env := PlainEnvelope{MessageType: "DATA_MESSAGE", Owner: g.cfg.Account, LogGroup: logGroup, LogStream: b.LogStream,
		SubscriptionFilters: []string{filter}, LogEvents: make([]PlainEvent, len(b.Events))}
	for i, e := range b.Events {
		// The id is decimal digits: quoted, it is its JSON string.
		env.LogEvents[i] = PlainEvent{ID: json.RawMessage(`"` + e.ID + `"`), Timestamp: e.Timestamp, Message: e.Message}
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	// Encoding strings and integers into memory cannot fail.
	_ = json.NewEncoder(zw).Encode(env)
	_ = zw.Close()
	return buf.Bytes()
}

// PlainEnvelope is the encoding/json view of what a CloudWatch Logs subscription delivers: the reference the
// decoders are checked against and the plain contender of the benchmarks.
type PlainEnvelope struct {
	MessageType         string       `json:"messageType"`
	Owner               string       `json:"owner"`
	LogGroup            string       `json:"logGroup"`
	LogStream           string       `json:"logStream"`
	SubscriptionFilters []string     `json:"subscriptionFilters"`
	LogEvents           []PlainEvent `json:"logEvents"`
}

// PlainEvent is one log event of a PlainEnvelope. AWS sends the id as a 56-digit decimal string; moto sends the
// event's index in its put call as a number, so the id is kept as it came.
type PlainEvent struct {
	ID        json.RawMessage `json:"id"`
	Timestamp int64           `json:"timestamp"`
	Message   string          `json:"message"`
}
