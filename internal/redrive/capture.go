package redrive

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/kinflow/kinflow/internal/sink"
)

// captureClient is the redrive's cluster client: it passes everything through except the dead letters the
// pipeline and the bulk engine make of redriven input. Those are taken out of each bulk request, answered as
// written (201), and kept by record for the redrive to write into the original letter (redrive.status failed, the
// new stage, reason and error): a letter that fails again keeps its place instead of gaining a twin. The bulk
// engine makes an index-stage letter inside its workers, out of a Write's reach, so the client is the one place
// every dead letter passes.
type captureClient struct {
	sink.Client
	index string // the dead-letter index

	mu   sync.Mutex
	byID map[string]captured // by the new letter's id: a resent request captures it once
}

var _ sink.Client = (*captureClient)(nil)

// captured is a dead letter the redrive's pipeline made.
type captured struct {
	id     string
	letter Letter
}

func newCaptureClient(c sink.Client, index string) *captureClient {
	return &captureClient{Client: c, index: index, byID: map[string]captured{}}
}

// take returns and forgets the letters captured for record k.
func (c *captureClient) take(k recordKey) []captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []captured
	for id, cp := range c.byID {
		if cp.letter.ShardID == k.shard && cp.letter.SequenceNumber == k.seq {
			out = append(out, cp)
			delete(c.byID, id)
		}
	}
	return out
}

// Bulk implements sink.Client.
func (c *captureClient) Bulk(ctx context.Context, body []byte, maxBody int64) (int, []byte, error) {
	var kept []byte
	var diverted []int // item positions answered here
	rest, n := body, 0
	for len(rest) > 0 {
		action, r1, _ := bytes.Cut(rest, []byte{'\n'})
		source, r2, _ := bytes.Cut(r1, []byte{'\n'})
		rest = r2
		var a map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(action, &a); err != nil {
			return 0, nil, fmt.Errorf("redrive: reading a bulk action: %w", err)
		}
		divert := false
		for _, m := range a {
			if m.Index == c.index {
				var l Letter
				if err := json.Unmarshal(source, &l); err != nil {
					return 0, nil, fmt.Errorf("redrive: reading a dead letter: %w", err)
				}
				c.mu.Lock()
				c.byID[m.ID] = captured{id: m.ID, letter: l}
				c.mu.Unlock()
				divert = true
			}
		}
		if divert {
			diverted = append(diverted, n)
		} else {
			kept = append(kept, action...)
			kept = append(kept, '\n')
			kept = append(kept, source...)
			kept = append(kept, '\n')
		}
		n++
	}
	if len(diverted) == 0 {
		return c.Client.Bulk(ctx, body, maxBody)
	}
	if len(kept) == 0 {
		return 200, []byte(`{"errors":false}`), nil
	}
	status, resp, err := c.Client.Bulk(ctx, kept, maxBody)
	if err != nil || status < 200 || status > 299 || bytes.HasPrefix(resp, []byte(`{"errors":false`)) {
		// A failed request is resent whole (and captured again, under the same ids); an all-written answer needs
		// no items.
		return status, resp, err
	}
	// Item errors: the engine matches items to its request by position, so the diverted ones are put back.
	var br struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(resp, &br); err != nil || len(br.Items) != n-len(diverted) {
		return status, resp, err // the engine reports the mismatch and resends
	}
	items := make([]json.RawMessage, 0, n)
	written := json.RawMessage(`{"create":{"status":201}}`)
	for i, k := 0, 0; i < n; i++ {
		if len(diverted) > 0 && diverted[0] == i {
			items = append(items, written)
			diverted = diverted[1:]
			continue
		}
		items = append(items, br.Items[k])
		k++
	}
	out, err := json.Marshal(map[string]any{"errors": true, "items": items})
	return status, out, err
}
