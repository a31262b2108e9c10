package pipeline_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kinflow/kinflow/internal/docid"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// TestGoldenDocumentsMatchTemplates writes every document of vpcflow's golden files (every version, custom orders,
// unknown fields, IPv6, NODATA/SKIPDATA) into indices whose templates are strict: a field the encoder emits but the
// templates do not map, or map with another type, is refused by the cluster and dead-lettered, and this test fails.
func TestGoldenDocumentsMatchTemplates(t *testing.T) {
	e := newEnv(t)
	files, err := filepath.Glob("../format/vpcflow/testdata/cases/*.golden.ndjson")
	if err != nil || len(files) == 0 {
		t.Fatalf("golden documents: %v (%d files)", err, len(files))
	}
	var docs []sink.Doc
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for n := 1; sc.Scan(); n++ {
			line := bytes.Clone(sc.Bytes())
			if bytes.HasPrefix(line, []byte(`{"error"`)) {
				continue
			}
			item := fmt.Sprintf("%s:%d", filepath.Base(name), n)
			docs = append(docs, sink.Doc{
				Index: sink.Indices{Prefix: e.prefix}.Flows(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)),
				ID:    docid.DeadLetter("golden", item, ""), Op: sink.OpCreate, Source: line,
				Origin: sink.Origin{ShardID: "golden", SequenceNumber: item, Raw: line},
			})
		}
		f.Close()
	}
	if err := e.sink.Write(testenv.Context(t, time.Minute), docs); err != nil {
		t.Fatal(err)
	}
	if letters := e.search(t, e.prefix+"-deadletter*"); len(letters) != 0 {
		for _, l := range letters {
			t.Errorf("refused by the strict templates: %s", l)
		}
	}
	if got := len(e.search(t, e.prefix+"-flows-*")); got != len(docs) {
		t.Errorf("indexed %d of %d golden documents", got, len(docs))
	}
	t.Logf("%d golden documents from %d files indexed under strict mappings", len(docs), len(files))
}
