package console

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/testing/sinktest"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// BenchmarkPanels times each panel's searches on a demo-sized corpus (27,000 flows over two daily indices, the
// order of `make demo`'s), on both engines: the numbers in the README's "Security console" section.
//
//	go test -run '^$' -bench Panels -benchtime 20x ./internal/console
func BenchmarkPanels(b *testing.B) {
	for _, e := range []struct {
		name string
		svc  testenv.Service
		mk   func(testing.TB, string) sink.Client
	}{{"elasticsearch", testenv.Elasticsearch, esClient}, {"opensearch", testenv.OpenSearch, osClient}} {
		b.Run(e.name, func(b *testing.B) {
			c := loadN(b, e.name, e.mk(b, testenv.URL(b, e.svc)), 27000)
			cfg := DefaultConfig()
			cfg.Prefix = c.prefix
			s, err := New(cfg, c.client, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			sc := scope{From: corpusFrom, To: corpusTo}
			panels := s.overviewPanels()
			panels["conns"] = func(ctx context.Context, sc scope) (any, error) { return s.closedWindows(ctx, sc) }
			panels["flows-page"] = func(ctx context.Context, sc scope) (any, error) { return s.flowPage(ctx, sc, nil, 50, "") }
			seed, err := parseQuery(SeedQuery, s.fields.flows)
			if err != nil {
				b.Fatal(err)
			}
			for name, f := range panels {
				for q, clause := range map[string]map[string]any{"all": nil, "seed": seed} {
					b.Run(name+"/"+q, func(b *testing.B) {
						sc := sc
						sc.clause = clause
						ctx := testenv.Context(b, time.Minute)
						for b.Loop() {
							if _, err := f(ctx, sc); err != nil {
								b.Fatal(err)
							}
						}
					})
				}
			}
		})
	}
}

// BenchmarkPanelsLarge times the panels on a larger corpus, KINFLOW_CONSOLE_BENCH_FLOWS flows (skipped unset),
// written in chunks of 100,000 (sinktest's corpus under ten seeds: the same hour, the same 700 addresses), on
// Elasticsearch only. The README gives the result for 1,000,000.
//
//	KINFLOW_CONSOLE_BENCH_FLOWS=1000000 go test -run '^$' -bench PanelsLarge -benchtime 5x -timeout 30m ./internal/console
func BenchmarkPanelsLarge(b *testing.B) {
	n, _ := strconv.Atoi(os.Getenv("KINFLOW_CONSOLE_BENCH_FLOWS"))
	if n <= 0 {
		b.Skip("set KINFLOW_CONSOLE_BENCH_FLOWS to the number of flows")
	}
	c := esClient(b, testenv.URL(b, testenv.Elasticsearch))
	prefix := sinktest.Setup(b, c)
	sc := sink.DefaultConfig()
	sc.Prefix, sc.FlushDocs = prefix, 5000
	w, err := sink.New(c, sc, sink.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := testenv.Context(b, 30*time.Minute)
	start := time.Now()
	for seed := uint64(1); n > 0; seed++ {
		chunk := min(n, 100000)
		if err := w.Write(ctx, sinktest.Docs(sinktest.Corpus(prefix, chunk, 0, seed))); err != nil {
			b.Fatal(err)
		}
		n -= chunk
	}
	if err := w.Close(ctx); err != nil {
		b.Fatal(err)
	}
	if _, _, err := c.Do(ctx, "POST", "/"+prefix+"-*/_refresh", nil, 1<<20); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded in %s", time.Since(start).Round(time.Second))
	cfg := DefaultConfig()
	cfg.Prefix = prefix
	s, err := New(cfg, c, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	seed, err := parseQuery(SeedQuery, s.fields.flows)
	if err != nil {
		b.Fatal(err)
	}
	panels := s.overviewPanels()
	panels["flows-page"] = func(ctx context.Context, sc scope) (any, error) { return s.flowPage(ctx, sc, nil, 50, "") }
	for name, f := range panels {
		for q, clause := range map[string]map[string]any{"all": nil, "seed": seed} {
			b.Run(name+"/"+q, func(b *testing.B) {
				sc := scope{From: corpusFrom, To: corpusTo, clause: clause}
				for b.Loop() {
					if _, err := f(ctx, sc); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
