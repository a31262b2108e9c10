package vpcflow

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/kinflow/kinflow/internal/enrich"
	"github.com/kinflow/kinflow/internal/testing/golden"
)

// enrichedFixture is a flow from the internet to an instance, with every enrichment: the logging interface and the
// destination are a known instance, the source has a country and a network, and is on a list.
func enrichedFixture(t testing.TB) (*Flow, *Source, *enrich.Context) {
	p, err := NewParser(DefaultFormat())
	if err != nil {
		t.Fatal(err)
	}
	var f Flow
	src := &Source{LogGroup: "/vpc/flows", LogStream: "eni-0a1b2c3d4e5f60718-all", EventID: "1"}
	if err := p.Parse(&f, src, "2 123456789012 eni-0a1b2c3d4e5f60718 203.0.113.9 10.0.1.10 51515 22 6 3 180 1795435200 1795435260 REJECT OK"); err != nil {
		t.Fatal(err)
	}
	web := &enrich.Resource{InterfaceID: "eni-0a1b2c3d4e5f60718", InterfaceType: "interface", InstanceID: "i-0123456789abcdef0",
		InstanceName: "web-1", SecurityGroups: []string{"sg-0aaa", "sg-0bbb"}, SubnetID: "subnet-01", VPCID: "vpc-01",
		AccountID: "123456789012", Region: "us-east-1", FlowLogged: true}
	x := &enrich.Context{
		Source: enrich.End{Geo: enrich.Geo{CountryISO: "NL", CountryName: "Netherlands", ContinentCode: "EU", Region: "North Holland",
			City: "Amsterdam", ASNumber: 64500, ASOrg: "Example Transit"},
			Threat: enrich.Indicator{List: "blocklist", Value: "203.0.113.0/24", Description: "SSH brute force"}},
		Destination: enrich.End{Resource: web},
		Interface:   web,
	}
	return &f, src, x
}

// TestEnrichedDocument holds the enriched document to its golden file, and the same flow without enrichment to
// the document AppendDocument writes.
func TestEnrichedDocument(t *testing.T) {
	f, src, x := enrichedFixture(t)
	var enc Encoder
	got := enc.AppendDocumentWith(nil, f, src, x)
	var indented bytes.Buffer
	if err := json.Indent(&indented, got, "", "  "); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, got)
	}
	golden.File(t, *update, filepath.Join("testdata", "enriched.golden.json"), indented.Bytes())
	plain := enc.AppendDocument(nil, f, src)
	if without := enc.AppendDocumentWith(nil, f, src, &enrich.Context{}); !bytes.Equal(without, plain) {
		t.Errorf("an empty context changed the document:\n%s\nwant\n%s", without, plain)
	}
	if allocs := testing.AllocsPerRun(100, func() { enc.AppendDocumentWith(got[:0], f, src, x) }); allocs > 0 {
		t.Errorf("%v allocations per enriched document, want none", allocs)
	}
}

// BenchmarkEnriched is the encoder with every enrichment beside the same flow without: what enrichment adds to a
// document, and what its mere existence costs a document that has none.
func BenchmarkEnriched(b *testing.B) {
	f, src, x := enrichedFixture(b)
	noThreat := *x
	noThreat.Source.Threat = enrich.Indicator{}
	var enc Encoder
	buf := make([]byte, 0, 4096)
	for _, bc := range []struct {
		name string
		x    *enrich.Context
	}{{"plain", nil}, {"enriched", &noThreat}, {"enriched+threat", x}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				buf = enc.AppendDocumentWith(buf[:0], f, src, bc.x)
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}
