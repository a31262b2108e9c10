package schema

import (
	"flag"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the README's field tables from the registry")

// TestFamilies holds every family to what the templates and the README need of it.
func TestFamilies(t *testing.T) {
	types := []Type{Keyword, Long, Double, IP, Date, Boolean, Binary, Text}
	names := map[string]bool{}
	for _, f := range Families() {
		t.Run(f.Name, func(t *testing.T) {
			if f.Name == "" || names[f.Name] || f.Title == "" || len(f.Indices) == 0 || len(f.Fields) == 0 {
				t.Fatalf("family %q: want a new name, a title, indices and fields", f.Name)
			}
			names[f.Name] = true
			seen := map[string]bool{}
			for _, r := range f.Fields {
				switch {
				case r.Name == "" || seen[r.Name]:
					t.Errorf("field %q: empty or twice", r.Name)
				case !slices.Contains(types, r.Type):
					t.Errorf("field %s: type %q: want one of %v", r.Name, r.Type, types)
				case r.NotIndexed && r.Type != Text:
					t.Errorf("field %s: only text is kept without an index", r.Name)
				case r.DocValuesOnly && (r.NotIndexed || r.Any || !r.Type.HasDocValues()):
					t.Errorf("field %s: doc values only needs a named row of a type with doc values, indexed", r.Name)
				case r.Source == "":
					t.Errorf("field %s: no source", r.Name)
				case r.Any && !strings.HasSuffix(r.Name, ".") && !strings.HasSuffix(r.Name, "_"):
					t.Errorf("field %s: an Any row names a prefix, ending in '.' or '_'", r.Name)
				case r.Any && !strings.Contains(r.Name, "."):
					t.Errorf("field %s: an Any row's prefix lies in an object (the root's dynamic setting is the template's)", r.Name)
				case r.Any && r.Type != Keyword && r.Type != Long:
					t.Errorf("field %s: the dynamic templates map unknown fields as keyword or long, not %s", r.Name, r.Type)
				}
				seen[r.Name] = true
			}
			// A leaf cannot also be an object: {"a":1} and {"a":{"b":1}} do not map together.
			for _, r := range f.Fields {
				for _, o := range f.Fields {
					if !r.Any && strings.HasPrefix(o.Name, r.Name+".") {
						t.Errorf("field %s is a leaf and the parent of %s", r.Name, o.Name)
					}
				}
			}
		})
	}
}

// TestFlowLogFields: every flow-log field lands in the flows family, and every derived field is made of known ones.
func TestFlowLogFields(t *testing.T) {
	flows := Flows()
	known := map[string]bool{}
	for _, fl := range VPCFlowLogFields() {
		if known[fl.Name] || fl.Version < 2 || fl.Version > 8 || fl.Resources == 0 || fl.Resources&^bothResources != 0 {
			t.Errorf("flow-log field %+v: twice, or version or resources out of range", fl)
		}
		known[fl.Name] = true
		row, ok := flows.Lookup(fl.Target)
		if !ok || row.Any || !slices.Contains(row.Needs, fl.Name) {
			t.Errorf("flow-log field %s: its target %s is no row of the flows family made from it (%+v)", fl.Name, fl.Target, row)
		}
	}
	for _, r := range flows.Fields {
		for _, n := range r.Needs {
			if !known[n] {
				t.Errorf("flows field %s needs %q, no flow-log field", r.Name, n)
			}
		}
	}
	// The default format, and the version AWS writes for the fields of a VPC flow log.
	var v2 []string
	for _, fl := range VPCFlowLogFields() {
		if fl.Version == 2 {
			v2 = append(v2, fl.Name)
		}
	}
	if got := strings.Join(v2, " "); got != "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status" {
		t.Errorf("version 2 fields, in order: %s", got)
	}
}

func TestLookup(t *testing.T) {
	flows := Flows()
	for path, want := range map[string]string{
		"source.ip":                          "source.ip",
		"aws.vpcflow.packets_lost_no_route":  "aws.vpcflow.packets_lost_no_route",
		"aws.vpcflow.packets_lost_new_cause": "aws.vpcflow.packets_lost_",
		"aws.vpcflow.future_field":           "aws.vpcflow.",
		"aws.vpcflow.":                       "",
		"source":                             "",
		"source.ip.x":                        "",
	} {
		got, ok := flows.Lookup(path)
		if ok != (want != "") || got.Name != want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", path, got.Name, ok, want)
		}
	}
}

// TestCopies: what the accessors return is the caller's to change.
func TestCopies(t *testing.T) {
	f := Flows()
	f.Fields[0].Name = "changed"
	f.Fields[len(f.Fields)-1].Needs = append(f.Fields[len(f.Fields)-1].Needs, "x")
	f.Fields[9].Needs[0] = "changed"
	VPCFlowLogFields()[0].Name = "changed"
	if g := Flows(); g.Fields[0].Name != "@timestamp" || g.Fields[9].Needs[0] != "srcaddr" || VPCFlowLogFields()[0].Name != "version" {
		t.Errorf("the registry changed through a copy: %+v %+v", g.Fields[0], g.Fields[9])
	}
}

// TestREADME: the README's field tables are the registry's. `go test ./internal/schema -update` rewrites them.
func TestREADME(t *testing.T) {
	path := filepath.Join("..", "..", "README.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := spliceTables(string(b), Families())
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	if want == string(b) {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("README.md: field tables rewritten")
		return
	}
	for _, f := range Families() {
		if !strings.Contains(string(b), Markdown(f)) {
			t.Errorf("README.md: the %s table is not the registry's; run go test ./internal/schema -update", f.Name)
		}
	}
	if !t.Failed() {
		t.Errorf("README.md: the field tables differ from the registry's around their markers; run go test ./internal/schema -update")
	}
}

func TestSpliceTables(t *testing.T) {
	fam := Family{Name: "x", Fields: []Field{{Name: "a", Type: Long, Source: "s|t"}}}
	doc := "# T\n\ntext\n<!-- fields:x:begin -->\nstale\n<!-- fields:x:end -->\nafter\n"
	got, err := spliceTables(doc, []Family{fam})
	want := "# T\n\ntext\n<!-- fields:x:begin -->\n\n| field | type | from |\n|---|---|---|\n| `a` | long | s\\|t |\n\n<!-- fields:x:end -->\nafter\n"
	if err != nil || got != want {
		t.Fatalf("got %q, %v\nwant %q", got, err, want)
	}
	if again, _ := spliceTables(got, []Family{fam}); again != got {
		t.Errorf("splicing twice changed the document: %q", again)
	}
	for _, bad := range []string{"no markers", "<!-- fields:x:end --> <!-- fields:x:begin -->",
		"<!-- fields:x:begin --><!-- fields:x:end --><!-- fields:x:begin --><!-- fields:x:end -->"} {
		if _, err := spliceTables(bad, []Family{fam}); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestStandardLibraryOnly: the CDK module imports this package; anything beyond the standard library would become
// the CDK's dependency too.
func TestStandardLibraryOnly(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if path := strings.Trim(imp.Path.Value, `"`); strings.Contains(strings.Split(path, "/")[0], ".") {
				t.Errorf("%s imports %s", name, path)
			}
		}
	}
}

func ExampleFamily_Lookup() {
	flows := Flows()
	for _, path := range []string{"destination.port", "aws.vpcflow.vpc_id", "aws.vpcflow.color"} {
		f, _ := flows.Lookup(path)
		fmt.Printf("%s: %s from %s\n", path, f.Type, f.Source)
	}
	// Output:
	// destination.port: long from dstport
	// aws.vpcflow.vpc_id: keyword from vpc-id
	// aws.vpcflow.color: keyword from any field of a custom format that kinflow does not know, '-' as '_'
}
