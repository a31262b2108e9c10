package elastic_test

import (
	"testing"

	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/sink/elastic"
	"github.com/kinflow/kinflow/internal/testing/sinktest"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

func backend(tb testing.TB) sinktest.Backend {
	return sinktest.Backend{
		Name: "elasticsearch",
		URL:  testenv.URL(tb, testenv.Elasticsearch),
		NewClient: func(tb testing.TB, url string, maxInFlight int) sink.Client {
			tb.Helper()
			cfg := elastic.DefaultConfig()
			cfg.Addresses = []string{url}
			cfg.Sink.MaxInFlight = maxInFlight
			c, err := elastic.NewClient(cfg)
			if err != nil {
				tb.Fatal(err)
			}
			return c
		},
		// Elasticsearch 8 reports a value its mapping refuses as document_parsing_exception.
		DeadLetterReasons: []string{"document_parsing_exception", "mapper_parsing_exception"},
	}
}

func TestElasticsearch(t *testing.T) { sinktest.Run(t, backend(t)) }

// BenchmarkStorage: bytes on disk per flow, partial, final and alert, force-merged, as setup installs the templates
// (BENCHMARKS.md, "Storage per document"):
// go test -run '^$' -bench Storage -benchtime 1x -v ./internal/sink/elastic/
func BenchmarkStorage(b *testing.B) { sinktest.Storage(b, backend(b)) }

// BenchmarkStorageLevers: bytes on disk per flow, each way of storing them BENCHMARKS.md compares.
func BenchmarkStorageLevers(b *testing.B) {
	sinktest.StorageLevers(b, backend(b), sinktest.FlowLevers(b))
}

// BenchmarkBulk: go test -run '^$' -bench Bulk -benchtime 3x -count 3 ./internal/sink/elastic/
func BenchmarkBulk(b *testing.B) { sinktest.Bench(b, backend(b)) }

// TestILM: setup's ILM policies on Elasticsearch (sinktest.Lifecycle).
func TestILM(t *testing.T) { sinktest.Lifecycle(t, backend(t), sink.EngineElasticsearch) }
