package opensearch_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/sink/opensearch"
	"github.com/kinflow/kinflow/internal/testing/sinktest"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

func backend(tb testing.TB) sinktest.Backend {
	return sinktest.Backend{
		Name: "opensearch",
		URL:  testenv.URL(tb, testenv.OpenSearch),
		NewClient: func(tb testing.TB, url string, maxInFlight int) sink.Client {
			tb.Helper()
			cfg := opensearch.DefaultConfig()
			cfg.Addresses = []string{url}
			cfg.Sink.MaxInFlight = maxInFlight
			c, err := opensearch.NewClient(cfg)
			if err != nil {
				tb.Fatal(err)
			}
			return c
		},
		DeadLetterReasons: []string{"mapper_parsing_exception", "document_parsing_exception"},
	}
}

func TestOpenSearch(t *testing.T) { sinktest.Run(t, backend(t)) }

// BenchmarkStorage: bytes on disk per flow, partial, final and alert, force-merged, as setup installs the templates
// (BENCHMARKS.md, "Storage per document"):
// go test -run '^$' -bench Storage -benchtime 1x -v ./internal/sink/opensearch/
func BenchmarkStorage(b *testing.B) { sinktest.Storage(b, backend(b)) }

// BenchmarkStorageLevers: bytes on disk per flow, each way of storing them BENCHMARKS.md compares.
func BenchmarkStorageLevers(b *testing.B) {
	sinktest.StorageLevers(b, backend(b), sinktest.FlowLevers(b))
}

// TestSigV4 checks that with an AWS config every request, bulk included, carries a SigV4 signature for the
// configured service and region, and that the secret key appears in neither the request nor the config's String.
func TestSigV4(t *testing.T) {
	var mu sync.Mutex
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization")+" "+r.Header.Get("X-Amz-Content-Sha256"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/_bulk") {
			w.Write([]byte(`{"errors":false,"items":[{"create":{"status":201}}]}`))
			return
		}
		w.Write([]byte(`{"acknowledged":true}`))
	}))
	defer srv.Close()

	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	awsCfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", secret, "")}
	cfg := opensearch.DefaultConfig()
	cfg.Addresses = []string{srv.URL}
	cfg.AWS = &awsCfg
	s, err := opensearch.New(context.Background(), cfg, sink.Options{})
	if err != nil {
		t.Fatal(err)
	}
	doc := sink.Doc{Index: "kinflow-flows-2026.11.23", ID: "a", Op: sink.OpCreate, Source: []byte(`{"a":1}`)}
	if err := s.Write(testenv.Context(t, 30e9), []sink.Doc{doc}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	// The templates, the bulk request, and the lifecycle requests before them (policies, dead-letter prune).
	if least := len(sink.Templates(sink.DefaultTemplateConfig())) + 1; len(auth) < least {
		t.Fatalf("%d requests, want at least %d", len(auth), least)
	}
	for _, a := range auth {
		if !strings.HasPrefix(a, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(a, "/eu-west-1/es/aws4_request") {
			t.Errorf("request not signed for es in eu-west-1: %q", a)
		}
		if strings.Contains(a, secret) {
			t.Errorf("secret key sent: %q", a)
		}
	}
	if str := cfg.String(); strings.Contains(str, secret) || strings.Contains(str, "AKIDEXAMPLE") {
		t.Errorf("String leaks credentials: %s", str)
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := opensearch.DefaultConfig()
	cfg.Addresses = []string{"ftp://x"}
	cfg.AWS = &aws.Config{}
	cfg.Username = "u"
	cfg.AWSService = "s3"
	cfg.Sink.MaxInFlight = 0
	err := cfg.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"ftp://x", "choose one", "no region", "no credentials", "allowed: es, aoss", "max in-flight"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// BenchmarkBulk: go test -run '^$' -bench Bulk -benchtime 3x -count 3 ./internal/sink/opensearch/
func BenchmarkBulk(b *testing.B) { sinktest.Bench(b, backend(b)) }

// TestISM: setup's ISM policies on OpenSearch (sinktest.Lifecycle). ISM's job runs every few minutes at best, so
// the deletion itself is not waited for here; the policy's states and the index's attachment are.
func TestISM(t *testing.T) { sinktest.Lifecycle(t, backend(t), sink.EngineOpenSearch) }
