package sink

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kinflow/kinflow/internal/schema"
)

// Engine is the kind of cluster the templates are installed in. It decides one thing: which lifecycle API deletes
// old indices, ILM on Elasticsearch or ISM on OpenSearch. The client packages (elastic, opensearch) set it in their
// DefaultConfig, so whoever chooses the client chooses the engine; this file is the only one that looks at it.
type Engine string

const (
	// EngineNone installs no lifecycle policy: a cluster whose kind the caller does not know (tests, fakes).
	EngineNone          Engine = ""
	EngineElasticsearch Engine = "elasticsearch"
	EngineOpenSearch    Engine = "opensearch"
)

const day = 24 * time.Hour

// Retention is how long each kind of index is kept before the cluster deletes it; 0 keeps it forever (the policy
// has no delete phase). The registry's rows KINFLOW_RETENTION_* hold the defaults users see; DefaultRetention is
// the same numbers for a library user.
type Retention struct {
	Flows       time.Duration // <prefix>-flows-*
	Partials    time.Duration // <prefix>-conns-partial-*: only as long as the finalizer may still correct from them
	Conns       time.Duration // <prefix>-conns-* (finals)
	Alerts      time.Duration // <prefix>-alerts-*
	DeadLetters time.Duration // documents of <prefix>-deadletter, by @timestamp (one index: see PruneDeadLetters)
}

// DefaultRetention: flows and dead letters 90 days, partials 72 hours, finals and alerts 365 days.
func DefaultRetention() Retention {
	return Retention{Flows: 90 * day, Partials: 72 * time.Hour, Conns: 365 * day, Alerts: 365 * day, DeadLetters: 90 * day}
}

// Validate reports every negative age.
func (r Retention) Validate() error {
	var errs []error
	for _, x := range []struct {
		name string
		d    time.Duration
	}{{"flows", r.Flows}, {"partials", r.Partials}, {"conns", r.Conns}, {"alerts", r.Alerts}, {"dead letters", r.DeadLetters}} {
		if x.d < 0 {
			errs = append(errs, fmt.Errorf("retention of %s %v: want 0 (forever) or a positive duration", x.name, x.d))
		}
	}
	return errors.Join(errs...)
}

// of is the retention of the daily indices of a pattern name (the index template's name after the prefix); false
// for a pattern without a lifecycle policy (the dead-letter index, pruned by query instead).
func (r Retention) of(name string) (time.Duration, bool) {
	switch name {
	case "flows":
		return r.Flows, true
	case "conns-partial":
		return r.Partials, true
	case "conns":
		return r.Conns, true
	case "alerts":
		return r.Alerts, true
	}
	return 0, false
}

// A Policy is the lifecycle policy of one daily index pattern: an ILM policy on Elasticsearch, an ISM policy on
// OpenSearch, both named Name.
type Policy struct {
	Name     string // <prefix>-flows, <prefix>-conns-partial, <prefix>-conns
	Pattern  string // <prefix>-flows-*
	Priority int    // the index template's: conns-* must not claim conns-partial-* indices
	// Age is the retention; 0 keeps the indices forever. The policy exists all the same, so that setting a
	// retention back to 0 stops the deletion of indices that already follow it.
	Age time.Duration
	// FromName ages an index from the date in its name rather than its creation (Elasticsearch only:
	// index.lifecycle.parse_origination_date). See originationFromName.
	FromName bool
}

// originationFromName says which indices age from their name's date on Elasticsearch. Flows and finals do: a
// backlog written days late holds data of those days, and retention is a promise about the data's age. Partials do
// not: the finalizer corrects a window until the newest flow is KINFLOW_CORRECTION_HORIZON past it, in event time;
// during a backlog event time lags the clock by the backlog, so aging partials from their date would delete them
// while they can still be corrected (a late partial would then re-create the index alone, and the window's next
// revision would lose everything else). Aged from creation, they live as long after they were first written,
// which is what the rule between KINFLOW_RETENTION_PARTIALS and the horizon assumes.
func originationFromName(name string) bool { return name != "conns-partial" }

// Policies returns the lifecycle policy of every daily index pattern of the registry's families.
func Policies(c TemplateConfig) []Policy {
	families := schema.Families()
	var out []Policy
	for _, f := range families {
		for _, pattern := range f.Indices {
			name := patternName(pattern)
			age, ok := c.Retention.of(name)
			if !ok {
				continue
			}
			out = append(out, Policy{Name: c.Prefix + "-" + name, Pattern: c.Prefix + "-" + pattern,
				Priority: indexPriority(pattern, families), Age: age, FromName: originationFromName(name)})
		}
	}
	return out
}

// patternName is an index pattern's name after the prefix: "conns-partial-*" is conns-partial.
func patternName(pattern string) string {
	return strings.TrimSuffix(strings.TrimSuffix(pattern, "*"), "-")
}

// lifecycleSettings are the index settings an index template adds for its pattern: on Elasticsearch the ILM policy
// (ISM policies find their indices through their own ism_template), nil otherwise.
func lifecycleSettings(c TemplateConfig, pattern string) obj {
	if c.Engine != EngineElasticsearch {
		return nil
	}
	name := patternName(pattern)
	if _, ok := c.Retention.of(name); !ok {
		return nil
	}
	lc := obj{"name": c.Prefix + "-" + name}
	if originationFromName(name) {
		// The daily names end in -yyyy.MM.dd, the form this setting parses (UTC midnight of that day).
		lc["parse_origination_date"] = true
	}
	return obj{"index": obj{"lifecycle": lc}}
}

// esAge writes a duration in the time units both engines read, the largest that divides it: 90d, 36h, 1s.
func esAge(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		unit string
	}{{day, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.unit
		}
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// fingerprint names a policy's content. The engines add fields of their own to a stored policy (dates, versions,
// schema numbers), so setup compares this, stored in the policy, rather than the bodies.
func fingerprint(body obj) string {
	b, _ := json.Marshal(body) // maps marshal with sorted keys: the same policy, the same bytes
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// ILMBody is the Elasticsearch ILM policy of p: a hot phase without actions, and after p.Age a delete phase.
func ILMBody(p Policy) obj {
	phases := obj{"hot": obj{"min_age": "0ms", "actions": obj{}}}
	if p.Age > 0 {
		phases["delete"] = obj{"min_age": esAge(p.Age), "actions": obj{"delete": obj{}}}
	}
	policy := obj{"phases": phases}
	meta := obj{"managed_by": "kinflow", "pattern": p.Pattern}
	policy["_meta"] = meta
	meta["fingerprint"] = fingerprint(policy)
	return obj{"policy": policy}
}

// ISMBody is the OpenSearch ISM policy of p: state hot, and after p.Age (from the index's creation: ISM has no
// origination date) state delete. Its ism_template attaches it to every new index of the pattern.
func ISMBody(p Policy) obj {
	hot := obj{"name": "hot", "actions": []any{}, "transitions": []any{}}
	states := []any{hot}
	what := "keeps " + p.Pattern + " forever"
	if p.Age > 0 {
		hot["transitions"] = []any{obj{"state_name": "delete", "conditions": obj{"min_index_age": esAge(p.Age)}}}
		states = append(states, obj{"name": "delete", "actions": []any{obj{"delete": obj{}}}, "transitions": []any{}})
		what = "deletes " + p.Pattern + " " + esAge(p.Age) + " after creation"
	}
	policy := obj{
		"default_state": "hot",
		"states":        states,
		"ism_template":  []any{obj{"index_patterns": []string{p.Pattern}, "priority": p.Priority}},
	}
	// ISM policies have no _meta: the fingerprint is the description's last word.
	policy["description"] = "kinflow " + what + " " + fingerprint(policy)
	return obj{"policy": policy}
}

// lifecycleBodyLimit caps what a policy's GET may return: a policy is a few hundred bytes, an explain a few per
// index.
const lifecycleBodyLimit = 4 << 20

// InstallPolicies makes the cluster's lifecycle policies those of c: each is PUT when absent or different (its
// fingerprint), so the setup of every start changes nothing once they are in place. It reports how many it wrote.
func InstallPolicies(ctx context.Context, client Client, c TemplateConfig, log *slog.Logger) (int, error) {
	var ensure func(context.Context, Client, TemplateConfig, Policy, *slog.Logger) (bool, error)
	switch c.Engine {
	case EngineElasticsearch:
		ensure = ensureILM
	case EngineOpenSearch:
		ensure = ensureISM
	default:
		return 0, nil
	}
	if log == nil {
		log = slog.Default()
	}
	written := 0
	for i, p := range Policies(c) {
		var changed bool
		var err error
		// Two workers starting together race on a policy; the loser sees a conflict and, next time round, the
		// winner's policy, which is the same.
		for attempt := 0; attempt < 3; attempt++ {
			changed, err = ensure(ctx, client, c, p, log)
			if !errors.Is(err, errConflict) {
				break
			}
		}
		if i == 0 && errors.Is(err, ErrNoLifecycle) {
			return 0, err
		}
		if err != nil {
			return written, fmt.Errorf("lifecycle policy %s: %w", p.Name, err)
		}
		if changed {
			written++
			log.Info("lifecycle policy installed", "policy", p.Name, "pattern", p.Pattern, "delete_after", esAge(p.Age), "engine", string(c.Engine))
		}
	}
	return written, nil
}

var errConflict = errors.New("changed concurrently")

// ErrNoLifecycle: the cluster has no lifecycle API (ILM is part of Elasticsearch's default distribution, not of
// its OSS or test builds; ISM is a plugin of OpenSearch, absent from its minimal build and from Serverless).
var ErrNoLifecycle = errors.New("the cluster has no lifecycle API")

// call sends one request under c's timeout; 404 is an answer, not an error, for the GETs.
func call(ctx context.Context, client Client, c TemplateConfig, method, path string, body any) (int, []byte, error) {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return 0, nil, err
		}
	}
	rctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	status, resp, err := client.Do(rctx, method, path, b, lifecycleBodyLimit)
	if err != nil {
		return 0, nil, err
	}
	switch {
	case status == 400 && strings.Contains(string(resp), "no handler found"):
		return status, resp, ErrNoLifecycle
	case status == 409:
		return status, resp, errConflict
	case status >= 300 && status != 404:
		return status, resp, fmt.Errorf("%s %s: status %d: %s", method, path, status, errorSummary(resp))
	}
	return status, resp, nil
}

// ensureILM PUTs p's ILM policy unless the stored one has its fingerprint. Indices follow a policy by name and
// read its phases when they get to them, so a changed age applies to the indices that exist too.
func ensureILM(ctx context.Context, client Client, c TemplateConfig, p Policy, _ *slog.Logger) (bool, error) {
	want := ILMBody(p)
	path := "/_ilm/policy/" + url.PathEscape(p.Name)
	status, resp, err := call(ctx, client, c, "GET", path, nil)
	if err != nil {
		return false, err
	}
	if status == 200 {
		var got map[string]struct {
			Policy struct {
				Meta struct {
					Fingerprint string `json:"fingerprint"`
				} `json:"_meta"`
			} `json:"policy"`
		}
		if err := json.Unmarshal(resp, &got); err != nil {
			return false, fmt.Errorf("reading %s: %w", path, err)
		}
		if got[p.Name].Policy.Meta.Fingerprint == want["policy"].(obj)["_meta"].(obj)["fingerprint"] {
			return false, nil
		}
	}
	_, _, err = call(ctx, client, c, "PUT", path, want)
	return err == nil, err
}

// ensureISM PUTs p's ISM policy unless the stored one has its fingerprint; replacing a policy takes the stored
// one's sequence number and primary term, so two setups never overwrite each other blindly. Then it moves the
// indices that follow an older version of the policy to this one: unlike ILM, ISM keeps a managed index on the
// version it started with.
func ensureISM(ctx context.Context, client Client, c TemplateConfig, p Policy, log *slog.Logger) (bool, error) {
	want := ISMBody(p)
	path := "/_plugins/_ism/policies/" + url.PathEscape(p.Name)
	status, resp, err := call(ctx, client, c, "GET", path, nil)
	if err != nil {
		return false, err
	}
	put := path
	if status == 200 {
		var got struct {
			SeqNo       int64 `json:"_seq_no"`
			PrimaryTerm int64 `json:"_primary_term"`
			Policy      struct {
				Description string `json:"description"`
			} `json:"policy"`
		}
		if err := json.Unmarshal(resp, &got); err != nil {
			return false, fmt.Errorf("reading %s: %w", path, err)
		}
		if got.Policy.Description == want["policy"].(obj)["description"] {
			return false, moveISMIndices(ctx, client, c, p, got.SeqNo, log)
		}
		put += "?if_seq_no=" + strconv.FormatInt(got.SeqNo, 10) + "&if_primary_term=" + strconv.FormatInt(got.PrimaryTerm, 10)
	}
	_, resp, err = call(ctx, client, c, "PUT", put, want)
	if err != nil {
		return false, err
	}
	var stored struct {
		SeqNo int64 `json:"_seq_no"`
	}
	if err := json.Unmarshal(resp, &stored); err != nil {
		return true, fmt.Errorf("reading the answer to PUT %s: %w", path, err)
	}
	return true, moveISMIndices(ctx, client, c, p, stored.SeqNo, log)
}

// moveISMIndices changes the indices of p's pattern that follow an older version of p's policy (seqNo is the
// current one's) to the current version. The pattern of finals also matches the partials, which follow another
// policy: only indices that follow p.Name are touched. An index not yet initialized by ISM reports no version and
// will start on the current one.
func moveISMIndices(ctx context.Context, client Client, c TemplateConfig, p Policy, seqNo int64, log *slog.Logger) error {
	status, resp, err := call(ctx, client, c, "GET", "/_plugins/_ism/explain/"+url.PathEscape(p.Pattern), nil)
	if err != nil || status == 404 {
		return err
	}
	var explain map[string]json.RawMessage
	if err := json.Unmarshal(resp, &explain); err != nil {
		return fmt.Errorf("reading the ISM explanation of %s: %w", p.Pattern, err)
	}
	var stale []string
	for index, raw := range explain {
		var e struct {
			PolicyID string `json:"policy_id"`
			SeqNo    *int64 `json:"policy_seq_no"`
		}
		if json.Unmarshal(raw, &e) != nil || e.PolicyID != p.Name || e.SeqNo == nil || *e.SeqNo == seqNo {
			continue
		}
		stale = append(stale, index)
	}
	slices.Sort(stale)
	// Names in chunks keep the request line short, whatever the number of daily indices.
	for start := 0; start < len(stale); start += 50 {
		names := stale[start:min(start+50, len(stale))]
		_, resp, err := call(ctx, client, c, "POST", "/_plugins/_ism/change_policy/"+strings.Join(names, ","), obj{"policy_id": p.Name})
		if err != nil {
			return fmt.Errorf("moving %d indices to the new %s: %w", len(names), p.Name, err)
		}
		var res struct {
			Failed int `json:"failed_indices"`
		}
		// An index ISM refuses to move keeps the older age: logged, and tried again at the next setup.
		_ = json.Unmarshal(resp, &res)
		log.Info("indices moved to the new lifecycle policy", "policy", p.Name, "indices", len(names), "failed", res.Failed)
	}
	return nil
}

// PruneDeadLetters deletes the dead letters older than c.Retention.DeadLetters (0: none). The dead-letter index is
// one index, not daily, so a lifecycle policy could only delete it whole, fresh letters with old; deleting by
// @timestamp keeps the promise letter by letter. The finalizer runs it (finalize.Parts.Prune), under its lock, so
// one process prunes and never at a start. It searches the old letters' ids and bulk-deletes them, 1,000 a round, rather than use
// _delete_by_query, which lives in a module that not every build of either engine has. It reports the letters
// deleted.
func PruneDeadLetters(ctx context.Context, client Client, c TemplateConfig) (int, error) {
	if c.Retention.DeadLetters <= 0 {
		return 0, nil
	}
	index := Indices{Prefix: c.Prefix}.DeadLetter()
	query := obj{"size": pruneRound, "_source": false, "sort": []any{"_doc"},
		"query": obj{"range": obj{"@timestamp": obj{"lt": "now-" + esAge(c.Retention.DeadLetters)}}}}
	deleted := 0
	for range 100 { // 100,000 letters a call at most: a poison storm is pruned over a few calls, never blocks a pass
		status, resp, err := call(ctx, client, c, "POST", "/"+index+"/_search?ignore_unavailable=true", query)
		if err != nil || status == 404 {
			return deleted, err
		}
		var res struct {
			Hits struct {
				Hits []struct {
					ID string `json:"_id"`
				} `json:"hits"`
			} `json:"hits"`
		}
		if err := json.Unmarshal(resp, &res); err != nil {
			return deleted, fmt.Errorf("reading the old dead letters: %w", err)
		}
		if len(res.Hits.Hits) == 0 {
			return deleted, nil
		}
		var body []byte
		for _, h := range res.Hits.Hits {
			line, _ := json.Marshal(obj{"delete": obj{"_index": index, "_id": h.ID}})
			body = append(append(body, line...), '\n')
		}
		rctx, cancel := context.WithTimeout(ctx, c.Timeout)
		status, resp, err = client.Bulk(rctx, body, lifecycleBodyLimit)
		cancel()
		if err != nil {
			return deleted, fmt.Errorf("deleting old dead letters: %w", err)
		}
		var bulk struct {
			Errors bool `json:"errors"`
		}
		if status >= 300 || json.Unmarshal(resp, &bulk) != nil || bulk.Errors {
			return deleted, fmt.Errorf("deleting old dead letters: status %d: %s", status, errorSummary(resp))
		}
		deleted += len(res.Hits.Hits)
		// The next search must not find what this round deleted.
		if _, _, err := call(ctx, client, c, "POST", "/"+index+"/_refresh", nil); err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}

// pruneRound is how many dead letters one round of PruneDeadLetters deletes.
const pruneRound = 1000
