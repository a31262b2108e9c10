package sink_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/kinflow/kinflow/internal/sink"
)

// scripted is a cluster that answers each document's id with the statuses listed for it, in turn (201 when the
// list is used up or the id has none): enough to show what the engine does with each kind of answer.
type scripted struct{ answers map[string][]int }

func (c *scripted) Bulk(_ context.Context, body []byte, _ int64) (int, []byte, error) {
	var items []string
	lines := bytes.Split(bytes.TrimSpace(body), []byte("\n"))
	for i := 0; i < len(lines); i += 2 { // an action line, then its source
		var action map[string]struct {
			ID string `json:"_id"`
		}
		json.Unmarshal(lines[i], &action)
		for op, meta := range action {
			status := 201
			if list := c.answers[meta.ID]; len(list) > 0 {
				status, c.answers[meta.ID] = list[0], list[1:]
			}
			item := fmt.Sprintf(`{%q:{"status":%d}}`, op, status)
			if status == 400 {
				item = fmt.Sprintf(`{%q:{"status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [source.port]"}}}`, op)
			}
			items = append(items, item)
		}
	}
	return 200, fmt.Appendf(nil, `{"errors":true,"items":[%s]}`, bytes.Join(toBytes(items), []byte(","))), nil
}

func (c *scripted) Do(context.Context, string, string, []byte, int64) (int, []byte, error) {
	return 200, []byte(`{}`), nil
}

func toBytes(s []string) [][]byte {
	out := make([][]byte, len(s))
	for i := range s {
		out[i] = []byte(s[i])
	}
	return out
}

// Write returns once every document is durable: a 429 is resent until it is written, a document the cluster
// refuses (400) is replaced by its dead letter, and each document's Outcome says which.
func ExampleBulkSink_Write() {
	cluster := &scripted{answers: map[string][]int{"throttled": {429, 429}, "refused": {400}}}
	cfg := sink.DefaultConfig()
	cfg.RetryInitial, cfg.RetryMax = time.Millisecond, 4*time.Millisecond
	s, err := sink.New(cluster, cfg, sink.Options{})
	if err != nil {
		panic(err)
	}
	defer s.Close(context.Background())

	ids := []string{"written", "throttled", "refused"}
	outcomes := make([]sink.Outcome, len(ids))
	docs := make([]sink.Doc, len(ids))
	for i, id := range ids {
		docs[i] = sink.Doc{Index: "kinflow-flows-2026.11.23", ID: id, Op: sink.OpCreate,
			Source: []byte(`{"source":{"port":"x"}}`), Origin: sink.Origin{ShardID: "shardId-000000000000"},
			Outcome: &outcomes[i]}
	}
	if err := s.Write(context.Background(), docs); err != nil {
		panic(err)
	}
	names := map[sink.Outcome]string{sink.OutcomeWritten: "written", sink.OutcomeExists: "exists",
		sink.OutcomeDeadLettered: "dead-lettered"}
	for i, id := range ids {
		fmt.Printf("%s: %s\n", id, names[outcomes[i]])
	}
	// Output:
	// written: written
	// throttled: written
	// refused: dead-lettered
}
