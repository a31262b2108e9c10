package vpcflow

import (
	"reflect"
	"strings"
	"testing"

	"github.com/kinflow/kinflow/internal/schema"
)

// TestWritersFollowRegistry: every field of the registry's flows family has a writer, and every writer a field.
func TestWritersFollowRegistry(t *testing.T) {
	w := writers()
	rows := map[string]bool{}
	for _, r := range schema.Flows().Fields {
		if r.Any {
			continue
		}
		rows[r.Name] = true
		if w[r.Name].op == opNone {
			t.Errorf("registry field %s: no writer", r.Name)
		}
	}
	for name := range w {
		if !rows[name] {
			t.Errorf("writer %s: no field of that name in the registry's flows family", name)
		}
	}
	if len(docFields) != len(rows) {
		t.Errorf("%d document fields, %d registry fields", len(docFields), len(rows))
	}
	any, ok := schema.Flows().Lookup(UnknownFieldsPrefix + "some_future_field")
	if !ok || !any.Any || any.Type != schema.Keyword {
		t.Errorf("unknown fields are written as strings under %s; the registry says %+v", UnknownFieldsPrefix, any)
	}
}

// TestFieldTableFollowsRegistry: the field table and the registry's flow-log table are the same fields in the same
// order: each Field is read into the Flow member of its AWS name, and the kind it parses as is one the document
// field it lands in can hold.
func TestFieldTableFollowsRegistry(t *testing.T) {
	rows := schema.VPCFlowLogFields()
	if len(rows) != int(numFields-FieldVersion) {
		t.Fatalf("%d registry rows, %d fields", len(rows), numFields-FieldVersion)
	}
	types := map[kind]schema.Type{kindString: schema.Keyword, kindAddr: schema.IP, kindPort: schema.Long,
		kindProtocol: schema.Keyword, kindCount: schema.Long, kindTime: schema.Date, kindAction: schema.Keyword,
		kindLogStatus: schema.Keyword, kindTCPFlags: schema.Long, kindFlowDirection: schema.Keyword, kindTrafficPath: schema.Long}
	flowType := reflect.TypeOf(Flow{})
	flows := schema.Flows()
	for i, r := range rows {
		fl := FieldVersion + Field(i)
		spec := &fields[fl]
		if fl.String() != r.Name || fl.Version() != r.Version || LookupField(r.Name) != fl {
			t.Errorf("field %d: %s version %d, registry %s version %d", fl, fl, fl.Version(), r.Name, r.Version)
		}
		var member string
		for j := range flowType.NumField() {
			if sf := flowType.Field(j); sf.Offset == offsetOf(spec, fl) && sf.Name != "Format" {
				member = sf.Name
			}
		}
		if want := strings.ReplaceAll(r.Name, "-", ""); strings.ToLower(member) != want {
			t.Errorf("field %s is read into Flow.%s", r.Name, member)
		}
		// Numbers and words are stored by width: it must be the member's.
		if k := kinds[spec.kind]; k.class == classNumber || k.class == classWord {
			if sf, _ := flowType.FieldByName(member); uintptr(k.width) != sf.Type.Size() {
				t.Errorf("field %s: stored as %d bytes into Flow.%s, of %d", r.Name, k.width, member, sf.Type.Size())
			}
		}
		if row, ok := flows.Lookup(r.Target); !ok || row.Type != types[spec.kind] {
			t.Errorf("field %s parses as %v, its target %s is %s", r.Name, types[spec.kind], r.Target, row.Type)
		}
	}
}

// TestWordsAreTheEnums: a word is stored as its position from 1, which must be the value of its enum.
func TestWordsAreTheEnums(t *testing.T) {
	for k, name := range map[kind]func(uint8) string{
		kindAction:        func(v uint8) string { return Action(v).String() },
		kindLogStatus:     func(v uint8) string { return LogStatus(v).String() },
		kindFlowDirection: func(v uint8) string { return FlowDirection(v).String() },
	} {
		for w, wd := range kinds[k].words {
			got := name(uint8(w + 1))
			if wd.n != len(got) || peek8(got, 0) != wd.bits || wd.mask&wd.bits != wd.bits {
				t.Errorf("kind %d, word %d: %+v, the enum's value %d is %q", k, w, wd, w+1, got)
			}
		}
	}
}
