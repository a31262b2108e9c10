package sink

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// policyStore answers the lifecycle requests as Elasticsearch (ILM) and OpenSearch (ISM) do, in memory: stored
// policies, ISM's sequence numbers and their check, and nothing to explain. It records every write.
type policyStore struct {
	mu     sync.Mutex
	seq    int64
	stored map[string][]byte // path -> stored body
	seqs   map[string]int64
	writes []string
}

func (s *policyStore) Bulk(context.Context, []byte, int64) (int, []byte, error) {
	return 200, []byte(`{"errors":false}`), nil
}

func (s *policyStore) Do(_ context.Context, method, path string, body []byte, _ int64) (int, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, query, _ := strings.Cut(path, "?")
	ism := strings.HasPrefix(p, "/_plugins/_ism/policies/")
	if !ism && !strings.HasPrefix(p, "/_ilm/policy/") {
		return 404, []byte(`{}`), nil // templates, explain, search: not this test's concern
	}
	name := p[strings.LastIndex(p, "/")+1:]
	switch method {
	case "GET":
		b, ok := s.stored[p]
		if !ok {
			return 404, []byte(`{"error":"not found"}`), nil
		}
		if ism {
			return 200, []byte(`{"_id":"` + name + `","_seq_no":` + itoa(s.seqs[p]) + `,"_primary_term":1,` + string(b[1:])), nil
		}
		return 200, []byte(`{"` + name + `":{"version":1,` + string(b[1:]) + `}`), nil
	case "PUT":
		if ism {
			_, exists := s.stored[p]
			if exists != strings.Contains(query, "if_seq_no=") || exists && !strings.Contains(query, "if_seq_no="+itoa(s.seqs[p])+"&") {
				return 409, []byte(`{"error":"version_conflict_engine_exception"}`), nil
			}
		}
		s.seq++
		s.stored[p], s.seqs[p] = body, s.seq
		s.writes = append(s.writes, method+" "+path)
		return 200, []byte(`{"_id":"` + name + `","_seq_no":` + itoa(s.seq) + `,"_primary_term":1}`), nil
	}
	return 400, nil, nil
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestInstallPoliciesIdempotent(t *testing.T) {
	for _, engine := range []Engine{EngineElasticsearch, EngineOpenSearch} {
		t.Run(string(engine), func(t *testing.T) {
			s := &policyStore{stored: map[string][]byte{}, seqs: map[string]int64{}}
			c := DefaultTemplateConfig()
			c.Engine = engine
			log := slog.New(slog.DiscardHandler)
			for i, want := range []int{4, 0} {
				if n, err := InstallPolicies(t.Context(), s, c, log); err != nil || n != want {
					t.Fatalf("setup %d wrote %d (%v), want %d", i+1, n, err, want)
				}
			}
			c.Retention.Partials = 96 * time.Hour
			if n, err := InstallPolicies(t.Context(), s, c, log); err != nil || n != 1 {
				t.Fatalf("changed retention: wrote %d (%v), want 1", n, err)
			}
			last := s.writes[len(s.writes)-1]
			if !strings.Contains(last, "kinflow-conns-partial") || engine == EngineOpenSearch && !strings.Contains(last, "if_seq_no=2&if_primary_term=1") {
				t.Errorf("last write %q: want the partials' policy (on OpenSearch, over seq_no 2)", last)
			}
			stored := string(s.stored[strings.SplitN(last, " ", 2)[1][:strings.IndexAny(strings.SplitN(last, " ", 2)[1]+"?", "?")]])
			if !strings.Contains(stored, `"4d"`) {
				t.Errorf("stored policy lacks the age 4d: %s", stored)
			}
		})
	}
}

// On Elasticsearch the index templates name their pattern's policy; flows and finals age from the date in their
// name, partials from their creation (originationFromName); the dead-letter index has none. On OpenSearch the
// templates carry nothing: the ISM policies' ism_template finds the indices.
func TestTemplatesNamePolicies(t *testing.T) {
	c := DefaultTemplateConfig()
	c.Engine = EngineElasticsearch
	want := map[string]string{
		"/_index_template/kinflow-flows":         `{"settings":{"index":{"lifecycle":{"name":"kinflow-flows","parse_origination_date":true}}}}`,
		"/_index_template/kinflow-conns-partial": `{"settings":{"index":{"lifecycle":{"name":"kinflow-conns-partial"}}}}`,
		"/_index_template/kinflow-conns":         `{"settings":{"index":{"lifecycle":{"name":"kinflow-conns","parse_origination_date":true}}}}`,
		"/_index_template/kinflow-deadletter":    `null`,
	}
	for _, engine := range []Engine{EngineElasticsearch, EngineOpenSearch} {
		c.Engine = engine
		for _, tp := range Templates(c) {
			w, ok := want[tp.Path]
			if !ok {
				continue
			}
			if engine == EngineOpenSearch {
				w = "null"
			}
			if got, _ := json.Marshal(tp.Body["template"]); string(got) != w {
				t.Errorf("%s %s: template %s, want %s", engine, tp.Path, got, w)
			}
		}
	}
}

func TestESAge(t *testing.T) {
	for d, want := range map[time.Duration]string{90 * day: "90d", 72 * time.Hour: "3d", 36 * time.Hour: "36h", 90 * time.Minute: "90m", time.Second: "1s", 1500 * time.Millisecond: "1500ms"} {
		if got := esAge(d); got != want {
			t.Errorf("esAge(%v) = %s, want %s", d, got, want)
		}
	}
}
