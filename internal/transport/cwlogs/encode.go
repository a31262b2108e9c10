package cwlogs

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/klauspost/compress/gzip"
)

// jsonEnvelope is an Envelope under the names CloudWatch Logs gives its fields.
type jsonEnvelope struct {
	MessageType         string      `json:"messageType"`
	Owner               string      `json:"owner"`
	LogGroup            string      `json:"logGroup"`
	LogStream           string      `json:"logStream"`
	SubscriptionFilters []string    `json:"subscriptionFilters"`
	LogEvents           []jsonEvent `json:"logEvents"`
}

type jsonEvent struct {
	ID        string `json:"id"`
	Timestamp int64  `json:"timestamp"`
	Message   string `json:"message"`
}

// MarshalJSON writes e as CloudWatch Logs does, so a decoded envelope can be shown as it arrived.
func (e Envelope) MarshalJSON() ([]byte, error) {
	j := jsonEnvelope{MessageType: e.MessageType.String(), Owner: e.Owner, LogGroup: e.LogGroup, LogStream: e.LogStream,
		SubscriptionFilters: e.SubscriptionFilters, LogEvents: make([]jsonEvent, len(e.LogEvents))}
	for i, ev := range e.LogEvents {
		j.LogEvents[i] = jsonEvent(ev)
	}
	return json.Marshal(j)
}

// Encode returns env as a subscription delivers it into Kinesis: gzip'd JSON. It is off the hot path (the redrive
// rebuilds records of dead-lettered lines with it), so it uses encoding/json.
func Encode(env *Envelope) ([]byte, error) {
	body, err := env.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encoding an envelope: %w", err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(body); err != nil {
		return nil, fmt.Errorf("encoding an envelope: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("encoding an envelope: %w", err)
	}
	return buf.Bytes(), nil
}
