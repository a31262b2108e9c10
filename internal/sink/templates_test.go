package sink

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kinflow/kinflow/internal/schema"
)

// flatMappings flattens mapping properties to dotted field -> its mapping, and lists the dynamic objects.
func flatMappings(tb testing.TB, props map[string]any, prefix string, out map[string]map[string]any, dynamic *[]string) {
	tb.Helper()
	for name, v := range props {
		m, ok := v.(map[string]any)
		if !ok {
			tb.Fatalf("%s%s: %T", prefix, name, v)
		}
		sub, ok := m["properties"].(map[string]any)
		if !ok {
			out[prefix+name] = m
			continue
		}
		if m["dynamic"] == true {
			*dynamic = append(*dynamic, prefix+name)
		}
		flatMappings(tb, sub, prefix+name+".", out, dynamic)
	}
}

// TestMappingsAreTheRegistry: each family's component template maps exactly the registry's fields, with their
// types, and the fields under its Any rows through dynamic templates.
func TestMappingsAreTheRegistry(t *testing.T) {
	templates := map[string]map[string]any{}
	for _, tp := range Templates(DefaultTemplateConfig()) {
		templates[tp.Path] = tp.Body
	}
	for _, fam := range schema.Families() {
		t.Run(fam.Name, func(t *testing.T) {
			body, ok := templates["/_component_template/kinflow-"+fam.Name+"-mappings"]
			if !ok {
				t.Fatalf("no component template for %s", fam.Name)
			}
			m := body["template"].(map[string]any)["mappings"].(map[string]any)
			got := map[string]map[string]any{}
			var dynamic []string
			flatMappings(t, m["properties"].(map[string]any), "", got, &dynamic)
			var wantDynamic []string
			for _, r := range fam.Fields {
				if r.Any {
					wantDynamic = append(wantDynamic, r.Name[:strings.LastIndex(r.Name, ".")])
					continue
				}
				mp, ok := got[r.Name]
				if !ok {
					t.Errorf("%s: not mapped", r.Name)
					continue
				}
				delete(got, r.Name)
				if mp["type"] != string(r.Type) || (mp["index"] == false) != (r.NotIndexed || r.DocValuesOnly) || mp["doc_values"] != nil {
					t.Errorf("%s: mapped %v, the registry says %s (not indexed: %v, doc values only: %v)", r.Name, mp, r.Type,
						r.NotIndexed, r.DocValuesOnly)
				}
				if r.Type == schema.Date && mp["format"] != "strict_date_optional_time||epoch_millis" {
					t.Errorf("%s: date format %v", r.Name, mp["format"])
				}
			}
			for name, mp := range got {
				t.Errorf("%s: mapped %v, no field of the registry", name, mp)
			}
			slices.Sort(dynamic)
			slices.Sort(wantDynamic)
			if !slices.Equal(slices.Compact(wantDynamic), dynamic) {
				t.Errorf("dynamic objects %v, want %v", dynamic, wantDynamic)
			}
			dyn, _ := m["dynamic_templates"].([]any)
			var paths []string
			for _, d := range dyn {
				for _, spec := range d.(map[string]any) {
					paths = append(paths, spec.(map[string]any)["path_match"].(string))
				}
			}
			if fam.Name == "flows" && !slices.Equal(paths, []string{"aws.vpcflow.packets_lost_*", "aws.vpcflow.*"}) {
				t.Errorf("dynamic templates %v: want the longest prefix first", paths)
			}
		})
	}
}

// TestIndexTemplates: an index template per index pattern of each family, composed of components installed before
// it; conns-partial-* outranks conns-*, which matches its indices too.
func TestIndexTemplates(t *testing.T) {
	installed := map[string]bool{}
	priority := map[string]float64{}
	for _, tp := range Templates(DefaultTemplateConfig()) {
		name := tp.Path[strings.LastIndex(tp.Path, "/")+1:]
		if strings.HasPrefix(tp.Path, "/_component_template/") {
			installed[name] = true
			continue
		}
		b, err := json.Marshal(tp.Body)
		if err != nil {
			t.Fatal(err)
		}
		var it struct {
			Patterns   []string `json:"index_patterns"`
			ComposedOf []string `json:"composed_of"`
			Priority   float64  `json:"priority"`
		}
		if err := json.Unmarshal(b, &it); err != nil {
			t.Fatal(err)
		}
		for _, c := range it.ComposedOf {
			if !installed[c] {
				t.Errorf("%s: composed of %s, not installed before it", tp.Path, c)
			}
		}
		priority[strings.Join(it.Patterns, ",")] = it.Priority
	}
	want := map[string]float64{"kinflow-flows-*": 200, "kinflow-conns-partial-*": 210, "kinflow-conns-*": 200, "kinflow-deadletter": 200, "kinflow-alerts-*": 200, "kinflow-lb-*": 200}
	if !reflect.DeepEqual(priority, want) {
		t.Errorf("index patterns and priorities %v, want %v", priority, want)
	}
}

// TestDeadLetterSourceIsTheRegistry: the dead-letter document has the registry's fields, in its order, and writes
// values of their types.
func TestDeadLetterSourceIsTheRegistry(t *testing.T) {
	var names []string
	typ := reflect.TypeOf(DeadLetterSource{})
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		names = append(names, name)
	}
	fam := schema.DeadLetters()
	// The redrive.* fields are a redrive's update of a letter (internal/redrive), never part of a new one.
	want := slices.DeleteFunc(fam.Names(), func(n string) bool { return strings.HasPrefix(n, "redrive.") })
	if !slices.Equal(names, want) {
		t.Errorf("dead-letter fields %v, the registry's %v", names, want)
	}
	o := Origin{ShardID: "shardId-000000000000", SequenceNumber: "1", LogGroup: "/g", LogStream: "s", EventID: "e",
		EventTimestamp: 1795435200123, Raw: []byte{0xff}}
	d := newDeadLetter("kinflow-deadletter", o, StageIndex, "mapper_parsing_exception", errors.New("bad"),
		time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), "kinflow-flows-2026.11.23", "id")
	var doc map[string]any
	if err := json.Unmarshal(d.Source, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc) != len(names) {
		t.Errorf("a dead letter with every value set has %d fields, want %d: %s", len(doc), len(names), d.Source)
	}
	for name, v := range doc {
		r, ok := fam.Lookup(name)
		s, isString := v.(string)
		switch {
		case !ok:
			t.Errorf("%s: written, no field of the registry", name)
		case !isString:
			t.Errorf("%s: %T, want a string", name, v)
		case r.Type == schema.Date:
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
}

// TestCodec: the settings component names index.codec best_compression by default, leaves it out for the engine's
// default, and no other codec is taken.
func TestCodec(t *testing.T) {
	codecOf := func(c TemplateConfig) any {
		for _, tp := range Templates(c) {
			if strings.HasSuffix(tp.Path, "-settings") {
				return tp.Body["template"].(map[string]any)["settings"].(map[string]any)["index"].(map[string]any)["codec"]
			}
		}
		t.Fatal("no settings component")
		return nil
	}
	c := DefaultTemplateConfig()
	if got := codecOf(c); got != CodecBestCompression {
		t.Errorf("default codec %v, want %s", got, CodecBestCompression)
	}
	for _, leaveOut := range []string{CodecDefault, ""} {
		c.Codec = leaveOut
		if got := codecOf(c); got != nil {
			t.Errorf("codec %q: index.codec %v, want it left out", leaveOut, got)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("codec %q: %v", leaveOut, err)
		}
	}
	c.Codec = "zstd"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "codec") {
		t.Errorf("codec zstd: %v, want an error naming the codec", err)
	}
}
