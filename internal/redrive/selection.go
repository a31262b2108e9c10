// Package redrive makes the dead-letter index something a person can act on: it counts and lists dead letters by
// stage, reason, log group and day, shows one with its original decoded, and redrives a selection of them through
// the current configuration's pipeline (a fixed format override, a raised limit, a fixed mapping).
//
// A redrive turns each record's letters back into the record they came from (decode: the record's bytes; parse and
// index: a CloudWatch Logs envelope of the letters' events, with their original ids and timestamps), and runs it
// through a pipeline Shard that names the original record in its documents but cuts its partials under its own
// namespace (pipeline.RedriveShard), one record at a time. So the flows get the ids they would have had, a second
// redrive finds them written by the record it names and changes nothing, and the finalizer corrects their windows
// as it corrects any late data. Each letter is then marked (an update, never a delete): succeeded, or failed with
// its new stage, reason and error; the pipeline's dead letters of the redrive never become letters of their own.
//
// It works on Elasticsearch and OpenSearch alike: every read is a plain search through sink.Doer, and the writes
// go through the same bulk engine as the runtimes'. It knows no runtime: the consumer's command and the Lambda's
// direct invocation both call it.
package redrive

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/kinflow/kinflow/internal/retry"
	"github.com/kinflow/kinflow/internal/sink"
)

// Sentinel errors, matched with errors.Is. Every one is permanent: the same call fails the same way again.
var (
	ErrSelection = retry.Permanent(errors.New("redrive: invalid selection"))
	ErrNotFound  = retry.Permanent(errors.New("redrive: no such dead letter"))
	ErrConfig    = retry.Permanent(errors.New("redrive: invalid configuration"))
)

// Statuses of a letter's redrive.status.
const (
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
)

// Stages a redrive can take letters from. Webhook letters are deliveries, not input: the finalizer redelivers a
// window when it corrects it.
var redrivable = []string{string(sink.StageDecode), string(sink.StageParse), string(sink.StageIndex)}

var stages = append(slices.Clone(redrivable), string(sink.StageWebhook))

// A Selection picks dead letters. Every set field narrows it; the zero Selection is every letter not redriven
// successfully yet.
type Selection struct {
	Stages    []string  `json:"stages,omitempty"`     // decode, parse, index, webhook
	Reasons   []string  `json:"reasons,omitempty"`    // field_count, not_gzip, ...
	LogGroups []string  `json:"log_groups,omitempty"` // exact names
	From      time.Time `json:"from,omitzero"`        // @timestamp (when the letter was made) at or after From
	To        time.Time `json:"to,omitzero"`          // and before To
	IDs       []string  `json:"ids,omitempty"`        // the letters' _id
	// Limit stops a redrive once it has taken at least Limit selected letters (whole records: it may take a few
	// more); 0: no limit. List and Count ignore it.
	Limit int `json:"limit,omitempty"`
	// IncludeRedriven also selects letters an earlier redrive marked succeeded.
	IncludeRedriven bool `json:"include_redriven,omitempty"`
}

// Validate reports every problem of s at once, listing the allowed values.
func (s Selection) Validate() error {
	var errs []error
	for _, st := range s.Stages {
		if !slices.Contains(stages, st) {
			errs = append(errs, fmt.Errorf("stage %q: allowed: %v", st, stages))
		}
	}
	if !s.From.IsZero() && !s.To.IsZero() && !s.From.Before(s.To) {
		errs = append(errs, fmt.Errorf("time range %v..%v: from must be before to", s.From, s.To))
	}
	if s.Limit < 0 {
		errs = append(errs, fmt.Errorf("limit %d: want 0 (none) or more", s.Limit))
	}
	if len(s.IDs) > 10000 {
		errs = append(errs, fmt.Errorf("%d ids: at most 10000", len(s.IDs)))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrSelection, errors.Join(errs...))
}

// validateRedrive is Validate plus what only a redrive refuses.
func (s Selection) validateRedrive() error {
	err := s.Validate()
	if slices.Contains(s.Stages, string(sink.StageWebhook)) {
		err = errors.Join(err, fmt.Errorf("%w: stage webhook cannot be redriven (the finalizer redelivers a window when it corrects it); allowed: %v",
			ErrSelection, redrivable))
	}
	return err
}

// query is the search query of s; redrive restricts it to the stages a redrive can take.
func (s Selection) query(redrive bool) map[string]any {
	var filter []any
	terms := func(field string, values []string) {
		if len(values) > 0 {
			filter = append(filter, map[string]any{"terms": map[string]any{field: values}})
		}
	}
	terms("stage", s.Stages)
	if redrive && len(s.Stages) == 0 {
		terms("stage", redrivable)
	}
	terms("reason", s.Reasons)
	terms("log_group", s.LogGroups)
	terms("_id", s.IDs)
	if !s.From.IsZero() || !s.To.IsZero() {
		r := map[string]any{"format": "strict_date_optional_time"}
		if !s.From.IsZero() {
			r["gte"] = s.From.UTC().Format(time.RFC3339Nano)
		}
		if !s.To.IsZero() {
			r["lt"] = s.To.UTC().Format(time.RFC3339Nano)
		}
		filter = append(filter, map[string]any{"range": map[string]any{"@timestamp": r}})
	}
	b := map[string]any{"filter": filter}
	if !s.IncludeRedriven {
		b["must_not"] = []any{map[string]any{"term": map[string]any{"redrive.status": StatusSucceeded}}}
	}
	if len(filter) == 0 {
		b["filter"] = []any{map[string]any{"match_all": map[string]any{}}}
	}
	return map[string]any{"bool": b}
}
