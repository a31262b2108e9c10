package console

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/kinflow/kinflow/internal/state"
)

// The pipeline-health page, from what the pipeline leaves behind (the console runs apart from any consumer, so it
// reads no process's metrics): dead letters by stage and reason with their originals, the newest flow and how far
// behind the clock it is, the flows indexed per daily index, and, when a state table is configured, each shard's
// progress, the lowest shard watermark, and the windows closed and still open.

// A Letter is one dead letter as the page lists it.
type Letter struct {
	ID               string    `json:"id"`
	Time             time.Time `json:"time"`
	Stage            string    `json:"stage"`
	Reason           string    `json:"reason"`
	Error            string    `json:"error"`
	LogGroup         string    `json:"log_group"`
	ShardID          string    `json:"shard_id"`
	SequenceNumber   string    `json:"sequence_number"`
	Original         string    `json:"original"`
	OriginalEncoding string    `json:"original_encoding"`
	RedriveStatus    string    `json:"redrive_status,omitempty"`
}

// maxOriginal caps the original shown per letter: a whole Kinesis record can be a megabyte.
const maxOriginal = 4096

// Shard is one shard's progress.
type Shard struct {
	ID         string    `json:"id"`
	Watermark  time.Time `json:"watermark"`
	CaughtUp   bool      `json:"caught_up"`
	Ended      bool      `json:"ended"`
	Registered bool      `json:"registered"`
	LastDataAt time.Time `json:"last_data_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

func (s *Server) handleHealth(ctx context.Context, r *http.Request) (any, error) {
	sc, err := s.rangeOf(r)
	if err != nil {
		return nil, err
	}
	panels, err := s.runPanels(ctx, sc, map[string]panelFunc{
		"deadletters": s.deadLetters,
		"flows":       s.flowsIndexed,
		"state":       s.stateHealth,
	})
	return map[string]any{"from": sc.From, "to": sc.To, "now": s.now().UTC(), "panels": panels}, err
}

// deadLetters counts the scope's letters by stage and reason and lists the newest with their originals.
func (s *Server) deadLetters(ctx context.Context, sc scope) (any, error) {
	var res struct {
		Hits struct {
			Total struct{ Value int64 }
			Hits  []struct {
				ID     string `json:"_id"`
				Source struct {
					Time             time.Time `json:"@timestamp"`
					Stage, Reason    string
					Error            string
					LogGroup         string `json:"log_group"`
					ShardID          string `json:"shard_id"`
					SequenceNumber   string `json:"sequence_number"`
					Original         string
					OriginalEncoding string `json:"original_encoding"`
					Redrive          struct{ Status string }
				} `json:"_source"`
			}
		}
		Aggregations struct {
			Stages struct {
				Buckets []struct {
					Key      string
					DocCount int64 `json:"doc_count"`
					Reasons  struct {
						Buckets []struct {
							Key      string
							DocCount int64 `json:"doc_count"`
						}
					}
				}
			}
		}
	}
	err := s.search(ctx, deadLettersFamily, sc, map[string]any{"size": 20, "track_total_hits": true,
		"sort": []any{map[string]any{"@timestamp": "desc"}},
		"aggs": map[string]any{"stages": map[string]any{"terms": map[string]any{"field": "stage", "size": 10},
			"aggs": map[string]any{"reasons": map[string]any{"terms": map[string]any{"field": "reason", "size": 20}}}}},
	}, &res)
	if err != nil {
		return nil, err
	}
	type reason struct {
		Stage  string `json:"stage"`
		Reason string `json:"reason"`
		Count  int64  `json:"count"`
	}
	reasons := []reason{}
	for _, st := range res.Aggregations.Stages.Buckets {
		for _, rb := range st.Reasons.Buckets {
			reasons = append(reasons, reason{st.Key, rb.Key, rb.DocCount})
		}
	}
	letters := []Letter{}
	for _, h := range res.Hits.Hits {
		src := h.Source
		orig := src.Original
		if len(orig) > maxOriginal {
			orig = orig[:maxOriginal] + "..."
		}
		letters = append(letters, Letter{ID: h.ID, Time: src.Time, Stage: src.Stage, Reason: src.Reason, Error: src.Error,
			LogGroup: src.LogGroup, ShardID: src.ShardID, SequenceNumber: src.SequenceNumber, Original: orig,
			OriginalEncoding: src.OriginalEncoding, RedriveStatus: src.Redrive.Status})
	}
	return map[string]any{"total": res.Hits.Total.Value, "by_reason": reasons, "latest": letters}, nil
}

// flowsIndexed is the newest flow (of all time: a stalled pipeline shows here), and the scope's flows per daily index.
func (s *Server) flowsIndexed(ctx context.Context, sc scope) (any, error) {
	var newest struct {
		Aggregations struct{ Newest struct{ Value *float64 } }
	}
	if err := s.search(ctx, flowsFamily, scope{}, map[string]any{"size": 0, "track_total_hits": false,
		"aggs": map[string]any{"newest": map[string]any{"max": map[string]any{"field": "@timestamp"}}}}, &newest); err != nil {
		return nil, err
	}
	var res struct {
		Hits struct {
			Total struct{ Value int64 }
		}
		Aggregations struct{ Indices termBuckets }
	}
	if err := s.search(ctx, flowsFamily, sc, map[string]any{"size": 0, "track_total_hits": true,
		"aggs": map[string]any{"indices": termsBy("_index", 62, false)}}, &res); err != nil {
		return nil, err
	}
	out := map[string]any{"flows": res.Hits.Total.Value, "indices": res.Aggregations.Indices.rows()}
	if v := newest.Aggregations.Newest.Value; v != nil {
		t := time.UnixMilli(int64(*v)).UTC()
		out["newest_flow"] = t
		out["newest_flow_age_seconds"] = int64(s.now().Sub(t) / time.Second)
	}
	return out, nil
}

// stateHealth reads the state table: shard progress and window records. The lowest watermark of the shards that
// still hold it back is shown as "the watermark"; the finalizer's own (which also lets idle and stuck shards go) may
// be ahead of it.
func (s *Server) stateHealth(ctx context.Context, sc scope) (any, error) {
	if s.state == nil {
		return map[string]any{"configured": false}, nil
	}
	// A state table that cannot be read (missing, DynamoDB unreachable) is this panel's message, not the page's
	// failure: the cluster's panels still answer.
	progress, err := s.state.Progress(ctx)
	if err != nil {
		return map[string]any{"configured": true, "error": "state table: " + err.Error()}, nil
	}
	shards := []Shard{}
	var low time.Time
	for _, p := range progress {
		sh := Shard{ID: p.ShardID, CaughtUp: p.CaughtUp, Ended: p.Ended, Registered: p.Registered,
			LastDataAt: p.LastDataAt.UTC(), UpdatedAt: p.UpdatedAt.UTC()}
		if p.Watermark > 0 {
			sh.Watermark = time.Unix(p.Watermark, 0).UTC()
		}
		if !p.Ended && !p.Registered && p.Watermark > 0 && (low.IsZero() || sh.Watermark.Before(low)) {
			low = sh.Watermark
		}
		shards = append(shards, sh)
	}
	slices.SortFunc(shards, func(a, b Shard) int { return strings.Compare(a.ID, b.ID) })
	windows, err := s.state.Windows(ctx, sc.From.Unix(), sc.To.Unix())
	if err != nil {
		return map[string]any{"configured": true, "error": "state table: " + err.Error()}, nil
	}
	closed, inProgress := 0, 0
	finalized := map[int64]bool{}
	for _, w := range windows {
		finalized[w.Start] = true
		if w.Done {
			closed++
		} else {
			inProgress++
		}
	}
	open, err := s.openWindows(ctx, sc, finalized)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"configured": true, "shards": shards, "windows_closed": closed, "windows_finalizing": inProgress,
		"windows_open": open, "latest_windows": lastWindows(windows, 12)}
	if !low.IsZero() {
		out["watermark"] = low
		out["watermark_lag_seconds"] = int64(s.now().Sub(low) / time.Second)
	}
	return out, nil
}

// openWindows counts the windows in the scope with partials and no finalization record yet.
func (s *Server) openWindows(ctx context.Context, sc scope, finalized map[int64]bool) (int, error) {
	var res struct {
		Aggregations struct {
			Windows struct {
				Buckets []struct{ Key int64 }
			}
		}
	}
	if err := s.search(ctx, partialsFamily, scope{From: sc.From, To: sc.To}, map[string]any{"size": 0, "track_total_hits": false,
		"aggs": map[string]any{"windows": map[string]any{"terms": map[string]any{"field": "window.start", "size": 5000}}}}, &res); err != nil {
		return 0, err
	}
	n := 0
	for _, b := range res.Aggregations.Windows.Buckets {
		if !finalized[b.Key/1000] {
			n++
		}
	}
	return n, nil
}

func lastWindows(ws []state.Window, n int) []map[string]any {
	out := []map[string]any{}
	for i := len(ws) - 1; i >= 0 && len(out) < n; i-- {
		w := ws[i]
		out = append(out, map[string]any{"start": time.Unix(w.Start, 0).UTC(), "revision": w.Revision, "done": w.Done, "updated_at": w.UpdatedAt.UTC()})
	}
	return out
}
