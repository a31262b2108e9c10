package finalize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/kinflow/kinflow/aggregate"
	"github.com/kinflow/kinflow/internal/sink"
)

// ErrSearch is wrapped by the errors of reading partials back: the cluster unreachable or answering an error.
// They are transient for the finalizer: the pass stops and the next one redoes the window.
var ErrSearch = errors.New("finalize: searching partials")

// partialWindow is one window that has partials, with its fingerprint.
type partialWindow struct {
	start       int64
	fingerprint string
}

// partialWindows lists the windows starting at from or later that have partials, ascending, each with a
// fingerprint of what its partials hold: their count and summed flow counters. A late partial (a new document) or
// a rewrite that covers more records changes it; a replay that rewrites the same partials does not.
func (f *Finalizer) partialWindows(ctx context.Context, from int64) ([]partialWindow, error) {
	pattern := f.indices.Prefix + "-conns-partial-*"
	if err := f.refresh(ctx, pattern); err != nil {
		return nil, err
	}
	var out []partialWindow
	var after json.RawMessage
	for {
		composite := map[string]any{
			"size":    1000,
			"sources": []any{map[string]any{"start": map[string]any{"terms": map[string]any{"field": "window.start"}}}},
		}
		if after != nil {
			composite["after"] = after
		}
		body, _ := json.Marshal(map[string]any{
			"size":             0,
			"track_total_hits": false,
			"query": map[string]any{"range": map[string]any{"window.start": map[string]any{
				"gte": from, "format": "epoch_second"}}},
			"aggs": map[string]any{"windows": map[string]any{
				"composite": composite,
				"aggs": map[string]any{
					"sent":     map[string]any{"sum": map[string]any{"field": "flows.sent"}},
					"received": map[string]any{"sum": map[string]any{"field": "flows.received"}},
					"bytes":    map[string]any{"sum": map[string]any{"field": "bytes.sent"}},
				},
			}},
		})
		var res struct {
			Aggregations struct {
				Windows struct {
					AfterKey json.RawMessage `json:"after_key"`
					Buckets  []struct {
						Key struct {
							Start json.Number `json:"start"`
						} `json:"key"`
						DocCount int64 `json:"doc_count"`
						Sent     struct {
							Value float64 `json:"value"`
						} `json:"sent"`
						Received struct {
							Value float64 `json:"value"`
						} `json:"received"`
						Bytes struct {
							Value float64 `json:"value"`
						} `json:"bytes"`
					} `json:"buckets"`
				} `json:"windows"`
			} `json:"aggregations"`
		}
		if err := f.do(ctx, "POST", "/"+pattern+"/_search?ignore_unavailable=true&allow_no_indices=true", body, &res); err != nil {
			return nil, err
		}
		w := &res.Aggregations.Windows
		for _, b := range w.Buckets {
			ms, err := b.Key.Start.Int64()
			if err != nil {
				return nil, fmt.Errorf("%w: window key %q: %v", ErrSearch, b.Key.Start, err)
			}
			out = append(out, partialWindow{
				start: ms / 1000,
				// Sums are doubles in the answer; printed exactly, they only have to change when the partials do.
				fingerprint: fmt.Sprintf("partials=%d flows=%s/%s bytes=%s", b.DocCount,
					strconv.FormatFloat(b.Sent.Value, 'f', -1, 64), strconv.FormatFloat(b.Received.Value, 'f', -1, 64),
					strconv.FormatFloat(b.Bytes.Value, 'f', -1, 64)),
			})
		}
		if len(w.Buckets) == 0 || w.AfterKey == nil {
			return out, nil
		}
		after = w.AfterKey
	}
}

// eachIP streams the partials of the window starting at start in ascending IP order, one search page at a time,
// and calls fn with all the partials of one IP (the slice is reused after fn returns). Pages are sorted by ip,
// shard and first sequence, a unique key, so search_after never skips or repeats a partial. Partials written while
// the stream runs may or may not be seen; the window's fingerprint, taken before, tells the next pass.
func (f *Finalizer) eachIP(ctx context.Context, start int64, fn func([]aggregate.Partial) error) error {
	index := f.indices.ConnsPartial(time.Unix(start, 0))
	var group []aggregate.Partial
	err := f.searchAll(ctx, index, dateRange("window.start", start, start),
		[]any{map[string]any{"ip": "asc"}, map[string]any{"partial.shard_id": "asc"}, map[string]any{"partial.first_sequence": "asc"}},
		func(_ string, src json.RawMessage) error {
			p, err := aggregate.DecodePartial(src)
			if err != nil {
				// A partial kinflow wrote and cannot read back: a bug or a hand-edited index. Stop rather than
				// finalize a window without it; the error names the document.
				return err
			}
			if len(group) > 0 && group[0].IP != p.IP {
				if err := fn(group); err != nil {
					return err
				}
				clear(group)
				group = group[:0]
			}
			group = append(group, p)
			return nil
		})
	if err == nil && len(group) > 0 {
		err = fn(group)
	}
	return err
}

// do sends one request and decodes a 2xx answer into out (nil: discarded).
func (f *Finalizer) do(ctx context.Context, method, path string, body []byte, out any) error {
	if err := sink.DoJSON(ctx, f.search, method, path, body, f.cfg.MaxResponseBytes, out); err != nil {
		return fmt.Errorf("%w: %w", ErrSearch, err)
	}
	return nil
}
