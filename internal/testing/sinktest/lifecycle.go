package sinktest

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// day is the date every index of the lifecycle tests is named after: chosen, never today's.
var day = time.Date(2021, 3, 4, 0, 0, 0, 0, time.UTC)

// Lifecycle checks the retention of engine on b's cluster: old dead letters are pruned letter by letter; and,
// where the cluster has the lifecycle API (ILM, ISM), that setup installs one policy per daily pattern with the
// configured ages, a second setup writes nothing, a changed retention rewrites just its policy, and a new daily
// index of each pattern follows its own policy (the finals' pattern also matches the partials' indices). Where it
// has none (the project's local test builds), setup must still succeed and the indices still be created, without
// a policy: that part is then skipped, saying so.
func Lifecycle(t *testing.T, b Backend, engine sink.Engine) {
	c := b.NewClient(t, b.URL, 2)
	t.Run("DeadLettersPruned", func(t *testing.T) { testPrune(t, c, engine) })
	t.Run("Policies", func(t *testing.T) { testPolicies(t, c, engine) })
}

func testPrune(t *testing.T, c sink.Client, engine sink.Engine) {
	tc := lifecycleConfig(t, c, engine)
	if err := sink.InstallTemplates(testenv.Context(t, time.Minute), c, tc, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("installing templates: %v", err)
	}
	ix := sink.Indices{Prefix: tc.Prefix}
	// One letter of the chosen day, one of now; a retention of 90 days deletes the first only.
	for id, at := range map[string]time.Time{"old": day, "new": time.Now()} {
		do(t, c, "PUT", "/"+ix.DeadLetter()+"/_doc/"+id+"?refresh=true", map[string]any{"@timestamp": at.Format(time.RFC3339), "stage": "parse"})
	}
	n, err := sink.PruneDeadLetters(testenv.Context(t, time.Minute), c, tc)
	if err != nil || n != 1 {
		t.Fatalf("prune deleted %d dead letters (%v), want 1", n, err)
	}
	all, fresh := count(t, c, ix.DeadLetter(), nil), count(t, c, ix.DeadLetter(), map[string]any{"ids": map[string]any{"values": []string{"new"}}})
	if all != 1 || fresh != 1 {
		t.Errorf("%d dead letters left, %d of them the fresh one; want just it", all, fresh)
	}
	if got := WaitPolicy(t, c, engine, ix.DeadLetter(), false); got != "" {
		t.Errorf("the dead-letter index follows policy %q, want none", got)
	}
	// A second prune finds nothing: setup at every start is harmless.
	if n, err := sink.PruneDeadLetters(testenv.Context(t, time.Minute), c, tc); err != nil || n != 0 {
		t.Errorf("second prune deleted %d (%v), want 0", n, err)
	}
}

func testPolicies(t *testing.T, c sink.Client, engine sink.Engine) {
	log := slog.New(slog.DiscardHandler)
	tc := lifecycleConfig(t, c, engine)
	ctx := testenv.Context(t, 2*time.Minute)
	n, err := sink.InstallPolicies(ctx, c, tc, log)
	if errors.Is(err, sink.ErrNoLifecycle) {
		// Setup goes on without policies, and an index of each pattern is still created by its template.
		if err := sink.InstallTemplates(ctx, c, tc, log); err != nil {
			t.Fatalf("setup on a cluster without a lifecycle API: %v", err)
		}
		for _, index := range dailyIndices(tc) {
			do(t, c, "PUT", "/"+index, nil)
		}
		// The local clusters are integration-test builds without ILM or ISM (neither is on Maven Central): what runs
		// here is the fallback, and the policies' own requests are checked against in-memory engines in
		// internal/sink (lifecycle_test.go). A full build answers and runs the rest of this test.
		t.Logf("%s here has no lifecycle API (%v): setup and index creation checked without policies", engine, err)
		return
	}
	if err != nil || n != 3 {
		t.Fatalf("first setup wrote %d policies (%v), want 3", n, err)
	}
	if err := sink.InstallTemplates(ctx, c, tc, log); err != nil {
		t.Fatalf("installing templates: %v", err)
	}
	if n, err := sink.InstallPolicies(ctx, c, tc, log); err != nil || n != 0 {
		t.Fatalf("second setup wrote %d policies (%v), want 0", n, err)
	}
	ages := map[string]string{tc.Prefix + "-flows": "90d", tc.Prefix + "-conns-partial": "3d", tc.Prefix + "-conns": "365d"}
	for _, p := range sink.Policies(tc) {
		if got := StoredAge(t, c, engine, p.Name); got != ages[p.Name] {
			t.Errorf("policy %s deletes after %q, want %q", p.Name, got, ages[p.Name])
		}
	}

	changed := tc
	changed.Retention.Flows = 30 * 24 * time.Hour
	changed.Retention.Conns = 0 // forever: the policy stays, without a delete phase
	if n, err := sink.InstallPolicies(ctx, c, changed, log); err != nil || n != 2 {
		t.Fatalf("setup with two changed retentions wrote %d policies (%v), want 2", n, err)
	}
	if got := StoredAge(t, c, engine, tc.Prefix+"-flows"); got != "30d" {
		t.Errorf("after the change, flows are deleted after %q, want 30d", got)
	}
	if got := StoredAge(t, c, engine, tc.Prefix+"-conns"); got != "" {
		t.Errorf("after the change to 0, finals are deleted after %q, want never", got)
	}
	if n, err := sink.InstallPolicies(ctx, c, changed, log); err != nil || n != 0 {
		t.Fatalf("third setup wrote %d policies (%v), want 0", n, err)
	}
	for i, index := range dailyIndices(tc) {
		policy := sink.Policies(tc)[i].Name
		do(t, c, "PUT", "/"+index, nil)
		if got := WaitPolicy(t, c, engine, index, true); got != policy {
			t.Errorf("%s follows policy %q, want %q", index, got, policy)
		}
	}
}

// dailyIndices are an index of the chosen day for each policy of tc, in the order of sink.Policies.
func dailyIndices(tc sink.TemplateConfig) []string {
	ix := sink.Indices{Prefix: tc.Prefix}
	return []string{ix.Flows(day), ix.ConnsPartial(day), ix.Conns(day)}
}

// lifecycleConfig is the default template configuration of engine under a fresh prefix, whose indices, templates
// and policies are removed when t ends.
func lifecycleConfig(t *testing.T, c sink.Client, engine sink.Engine) sink.TemplateConfig {
	t.Helper()
	tc := sink.DefaultTemplateConfig()
	tc.Prefix = testenv.UniqueName(t, "kflc")
	tc.Replicas = 0
	tc.Engine = engine
	t.Cleanup(func() { dropLifecycle(c, tc) })
	return tc
}

func dropLifecycle(c sink.Client, tc sink.TemplateConfig) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c.Do(ctx, "DELETE", "/"+tc.Prefix+"-*", nil, 1<<20) //nolint:errcheck // best effort
	for _, t := range slices.Backward(sink.Templates(tc)) {
		c.Do(ctx, "DELETE", t.Path, nil, 1<<20) //nolint:errcheck
	}
	for _, p := range sink.Policies(tc) {
		c.Do(ctx, "DELETE", "/_ilm/policy/"+p.Name, nil, 1<<20)            //nolint:errcheck
		c.Do(ctx, "DELETE", "/_plugins/_ism/policies/"+p.Name, nil, 1<<20) //nolint:errcheck
	}
}

// StoredAge is the age after which the stored policy name deletes an index, as the cluster holds it; "" for a
// policy without deletion.
func StoredAge(t *testing.T, c sink.Client, engine sink.Engine, name string) string {
	t.Helper()
	if engine == sink.EngineElasticsearch {
		var got map[string]struct {
			Policy struct {
				Phases map[string]struct {
					MinAge  string         `json:"min_age"`
					Actions map[string]any `json:"actions"`
				} `json:"phases"`
			} `json:"policy"`
		}
		mustJSON(t, getJSON(t, c, "/_ilm/policy/"+name), &got)
		if d, ok := got[name].Policy.Phases["delete"]; ok && d.Actions["delete"] != nil {
			return d.MinAge
		}
		return ""
	}
	var got struct {
		Policy struct {
			States []struct {
				Name        string `json:"name"`
				Transitions []struct {
					State      string `json:"state_name"`
					Conditions struct {
						MinIndexAge string `json:"min_index_age"`
					} `json:"conditions"`
				} `json:"transitions"`
			} `json:"states"`
		} `json:"policy"`
	}
	mustJSON(t, getJSON(t, c, "/_plugins/_ism/policies/"+name), &got)
	for _, s := range got.Policy.States {
		for _, tr := range s.Transitions {
			if tr.State == "delete" {
				return tr.Conditions.MinIndexAge
			}
		}
	}
	return ""
}

// WaitPolicy is the lifecycle policy index follows, by the engine's explain API. ISM attaches its policies just
// after an index is created, so when one is expected it waits for it (10 s at most).
func WaitPolicy(t *testing.T, c sink.Client, engine sink.Engine, index string, expect bool) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := explainPolicy(t, c, engine, index)
		if got != "" || !expect || time.Now().After(deadline) {
			return got
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func explainPolicy(t *testing.T, c sink.Client, engine sink.Engine, index string) string {
	t.Helper()
	if engine == sink.EngineElasticsearch {
		status, resp, err := c.Do(testenv.Context(t, time.Minute), "GET", "/"+index+"/_ilm/explain", nil, 1<<20)
		if err != nil || status == 404 {
			return "" // the dead-letter index may not exist: then nothing manages it either
		}
		var got struct {
			Indices map[string]struct {
				Managed bool   `json:"managed"`
				Policy  string `json:"policy"`
			} `json:"indices"`
		}
		mustJSON(t, resp, &got)
		return got.Indices[index].Policy
	}
	status, resp, err := c.Do(testenv.Context(t, time.Minute), "GET", "/_plugins/_ism/explain/"+index, nil, 1<<20)
	if err != nil || status != 200 {
		return "" // no ISM here, or no such index: nothing manages it
	}
	var got map[string]json.RawMessage
	mustJSON(t, resp, &got)
	var e struct {
		PolicyID string `json:"index.plugins.index_state_management.policy_id"`
	}
	if raw, ok := got[index]; ok {
		mustJSON(t, raw, &e)
	}
	return e.PolicyID
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, strings.TrimSpace(string(b)))
	}
}
