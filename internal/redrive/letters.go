package redrive

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/kinflow/kinflow/internal/retry"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/transport/cwlogs"
)

// A Letter is one dead letter as the index holds it (the registry's dead-letter family): the document the sink
// wrote, under its _id, with what the last redrive did to it.
type Letter struct {
	ID string `json:"id"` // the document's _id
	sink.DeadLetterSource
	Redrive *Mark `json:"redrive,omitempty"`
}

// A Mark is what the last redrive did to a letter (the redrive.* fields).
type Mark struct {
	Status         string `json:"status"`
	At             string `json:"at"`
	Flows          int    `json:"flows"`
	PreviousStage  string `json:"previous_stage,omitempty"`
	PreviousReason string `json:"previous_reason,omitempty"`
}

// OriginalBytes returns the letter's original input: the text as it is, or the bytes base64 encoded.
func (l *Letter) OriginalBytes() ([]byte, error) {
	if l.OriginalEncoding == "base64" {
		b, err := base64.StdEncoding.DecodeString(l.Original)
		if err != nil {
			return nil, fmt.Errorf("letter %s: original: %w", l.ID, err)
		}
		return b, nil
	}
	return []byte(l.Original), nil
}

// eventMillis returns the event's timestamp in milliseconds and whether the letter has one (letters written
// before kinflow recorded it have none).
func (l *Letter) eventMillis() (int64, bool) {
	if l.EventTimestamp == "" {
		return 0, false
	}
	t, err := time.Parse(time.RFC3339Nano, l.EventTimestamp)
	if err != nil {
		return 0, false
	}
	return t.UnixMilli(), true
}

// Decoded is a letter's original made readable.
type Decoded struct {
	// Text is the original when it is text (a line, a webhook body, a record that is not gzip).
	Text string `json:"text,omitempty"`
	// Envelope is a gzip'd CloudWatch Logs record decoded: its envelope as JSON.
	Envelope json.RawMessage `json:"envelope,omitempty"`
	// Bytes is an original that is neither: base64, as stored.
	Bytes []byte `json:"bytes,omitempty"`
	// Error says why a gzip'd record does not decode (what made it a dead letter, under today's limits).
	Error string `json:"error,omitempty"`
}

// Decode makes the letter's original readable: utf8 as it is; base64 to bytes; a gzip'd CloudWatch Logs record to
// its envelope, decoded by cwlogs with cfg's limits (a record that still fails shows why, with its bytes).
func (l *Letter) Decode(cfg cwlogs.Config) (Decoded, error) {
	raw, err := l.OriginalBytes()
	if err != nil {
		return Decoded{}, err
	}
	if !bytes.HasPrefix(raw, []byte{0x1f, 0x8b}) {
		if l.OriginalEncoding != "base64" {
			return Decoded{Text: l.Original}, nil
		}
		return Decoded{Bytes: raw}, nil
	}
	dec, err := cwlogs.NewDecoder(cfg)
	if err != nil {
		return Decoded{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	var env cwlogs.Envelope
	if err := dec.Decode(&env, raw); err != nil {
		return Decoded{Bytes: raw, Error: err.Error()}, nil
	}
	b, err := json.Marshal(env)
	if err != nil {
		return Decoded{}, err
	}
	return Decoded{Envelope: b}, nil
}

// Store reads the dead-letter index.
type Store struct {
	d     sink.Doer
	index string
	retry retry.Policy
}

// NewStore returns a reader of <prefix>-deadletter through d.
func NewStore(d sink.Doer, prefix string) (*Store, error) {
	if err := sink.ValidatePrefix(prefix); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if d == nil {
		return nil, fmt.Errorf("%w: no cluster client", ErrConfig)
	}
	return &Store{d: d, index: sink.Indices{Prefix: prefix}.DeadLetter(),
		retry: retry.Policy{Initial: 200 * time.Millisecond, Max: 10 * time.Second}}, nil
}

// Index is the dead-letter index's name.
func (s *Store) Index() string { return s.index }

const maxAnswer = 256 << 20

// do sends one request, retrying what may pass (a transport error, 429, 5xx) with jittered backoff until ctx ends;
// a 404 is ErrNotFound, any other answer outside 2xx permanent.
func (s *Store) do(ctx context.Context, method, path string, body any, out any) error {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return err
		}
	}
	return retry.Do(ctx, s.retry, func(ctx context.Context) error {
		status, resp, err := s.d.Do(ctx, method, path, b, maxAnswer)
		switch {
		case err != nil:
			return retry.Transient(fmt.Errorf("%s %s: %w", method, path, err))
		case status == 404:
			return fmt.Errorf("%w: %s %s: %s", ErrNotFound, method, path, excerpt(resp))
		case status < 200 || status > 299:
			return answerError(fmt.Sprintf("%s %s: status %d", method, path, status), status, resp)
		}
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(resp, out); err != nil {
			return retry.Permanent(fmt.Errorf("%s %s: decoding the answer: %w", method, path, err))
		}
		return nil
	})
}

// answerError is the error of an answer outside 2xx: retryable when retry.RetryableStatus says so, else permanent.
func answerError(what string, status int, body []byte) error {
	err := fmt.Errorf("%s: %s", what, excerpt(body))
	if retry.RetryableStatus(status) {
		return retry.Transient(err)
	}
	return retry.Permanent(err)
}

func excerpt(b []byte) string {
	if len(b) > 300 {
		return string(bytes.ToValidUTF8(b[:300], nil)) + "..."
	}
	return string(b)
}

// refresh makes letters written or marked a moment ago (a redrive right after another, a list right after a
// redrive) searchable as they are now: a person acting on the index must not see it a second behind.
func (s *Store) refresh(ctx context.Context) error {
	if err := s.do(ctx, "POST", "/"+s.index+"/_refresh", nil, nil); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("refreshing %s: %w", s.index, err)
	}
	return nil
}

// Get returns one letter.
func (s *Store) Get(ctx context.Context, id string) (Letter, error) {
	var res struct {
		ID     string `json:"_id"`
		Found  bool   `json:"found"`
		Source Letter `json:"_source"`
	}
	err := s.do(ctx, "GET", "/"+s.index+"/_doc/"+url.PathEscape(id), nil, &res)
	if err != nil {
		return Letter{}, fmt.Errorf("reading dead letter %s: %w", id, err)
	}
	if !res.Found {
		return Letter{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	l := res.Source
	l.ID = res.ID
	return l, nil
}

// A Group counts the letters of one stage, reason, log group, day and redrive status.
type Group struct {
	Stage    string `json:"stage"`
	Reason   string `json:"reason"`
	LogGroup string `json:"log_group"` // "-": letters without one (a record that is not an envelope, a webhook)
	Day      string `json:"day"`       // YYYY-MM-DD (UTC) of @timestamp
	Status   string `json:"status"`    // the last redrive's, or "new"
	Count    int64  `json:"count"`
}

// Count counts the letters sel picks, grouped by stage, reason, log group, day and redrive status (one search of
// nested terms and date_histogram aggregations), and returns the groups sorted and the total.
func (s *Store) Count(ctx context.Context, sel Selection) ([]Group, int64, error) {
	if err := sel.Validate(); err != nil {
		return nil, 0, err
	}
	terms := func(field string, size int, sub map[string]any, missing string) map[string]any {
		t := map[string]any{"field": field, "size": size}
		if missing != "" {
			t["missing"] = missing
		}
		return map[string]any{"terms": t, "aggs": map[string]any{"g": sub}}
	}
	day := map[string]any{"date_histogram": map[string]any{"field": "@timestamp", "calendar_interval": "1d",
		"min_doc_count": 1, "format": "yyyy-MM-dd"}, "aggs": map[string]any{"g": map[string]any{"terms": map[string]any{
		"field": "redrive.status", "size": 4, "missing": "new"}}}}
	aggs := terms("stage", 10, terms("reason", 200, terms("log_group", 500, day, "-"), ""), "")
	body := map[string]any{"size": 0, "track_total_hits": true, "query": sel.query(false), "aggs": map[string]any{"g": aggs}}
	type bucket struct {
		Key      any    `json:"key"`
		KeyStr   string `json:"key_as_string"`
		DocCount int64  `json:"doc_count"`
		G        struct {
			Buckets []json.RawMessage `json:"buckets"`
		} `json:"g"`
	}
	var res struct {
		Hits struct {
			Total struct {
				Value int64 `json:"value"`
			} `json:"total"`
		} `json:"hits"`
		Aggs struct {
			G struct {
				Buckets []json.RawMessage `json:"buckets"`
			} `json:"g"`
		} `json:"aggregations"`
	}
	if err := s.refresh(ctx); err != nil {
		return nil, 0, err
	}
	err := s.do(ctx, "POST", "/"+s.index+"/_search", body, &res)
	if errors.Is(err, ErrNotFound) {
		return nil, 0, nil // no dead letter was ever written
	}
	if err != nil {
		return nil, 0, fmt.Errorf("counting dead letters: %w", err)
	}
	var groups []Group
	var walk func(raw []json.RawMessage, depth int, g Group) error
	walk = func(raw []json.RawMessage, depth int, g Group) error {
		for _, r := range raw {
			var b bucket
			if err := json.Unmarshal(r, &b); err != nil {
				return err
			}
			key := b.KeyStr
			if key == "" {
				key = fmt.Sprint(b.Key)
			}
			switch depth {
			case 0:
				g.Stage = key
			case 1:
				g.Reason = key
			case 2:
				g.LogGroup = key
			case 3:
				g.Day = key
			case 4:
				g.Status, g.Count = key, b.DocCount
				groups = append(groups, g)
				continue
			}
			if err := walk(b.G.Buckets, depth+1, g); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(res.Aggs.G.Buckets, 0, Group{}); err != nil {
		return nil, 0, fmt.Errorf("counting dead letters: decoding the aggregations: %w", err)
	}
	slices.SortFunc(groups, func(a, b Group) int {
		for _, c := range [][2]string{{a.Stage, b.Stage}, {a.Reason, b.Reason}, {a.LogGroup, b.LogGroup}, {a.Day, b.Day}, {a.Status, b.Status}} {
			if c[0] != c[1] {
				if c[0] < c[1] {
					return -1
				}
				return 1
			}
		}
		return 0
	})
	return groups, res.Hits.Total.Value, nil
}

// sortKeys order letters by the record they came from, then by event: a record's letters are adjacent, and pages
// continue with search_after from the last letter's keys.
var sortKeys = []any{
	map[string]any{"shard_id": map[string]any{"order": "asc", "missing": "_first"}},
	map[string]any{"sequence_number": map[string]any{"order": "asc", "missing": "_first"}},
	map[string]any{"event_id": map[string]any{"order": "asc", "missing": "_first"}},
	map[string]any{"stage": "asc"},
	map[string]any{"target_id": map[string]any{"order": "asc", "missing": "_first"}},
}

// page is one page of letters in sortKeys order, and the keys to continue after.
type page struct {
	letters []Letter
	after   []any
}

// search returns up to size letters matching query after the sort values after (nil: from the start).
func (s *Store) search(ctx context.Context, query map[string]any, after []any, size int) (page, error) {
	body := map[string]any{"size": size, "query": query, "sort": sortKeys, "track_total_hits": false}
	if after != nil {
		body["search_after"] = after
	}
	var res struct {
		Hits struct {
			Hits []struct {
				ID     string `json:"_id"`
				Source Letter `json:"_source"`
				Sort   []any  `json:"sort"`
			} `json:"hits"`
		} `json:"hits"`
	}
	err := s.do(ctx, "POST", "/"+s.index+"/_search", body, &res)
	if errors.Is(err, ErrNotFound) {
		return page{}, nil
	}
	if err != nil {
		return page{}, fmt.Errorf("searching dead letters: %w", err)
	}
	var p page
	for _, h := range res.Hits.Hits {
		l := h.Source
		l.ID = h.ID
		p.letters = append(p.letters, l)
		p.after = h.Sort
	}
	return p, nil
}

// List returns up to size letters sel picks, in record order, after the sort values after; and the values to
// continue after (nil at the end).
func (s *Store) List(ctx context.Context, sel Selection, after []any, size int) ([]Letter, []any, error) {
	if err := sel.Validate(); err != nil {
		return nil, nil, err
	}
	p, err := s.search(ctx, sel.query(false), after, size)
	if err != nil || len(p.letters) < size {
		return p.letters, nil, err
	}
	return p.letters, p.after, nil
}
