package schema

import (
	"slices"
	"strings"
	"testing"
)

// TestLoadBalancers holds the load-balancer family to what TestFamilies holds the registered families to (it is
// not in Families until the pipeline writes it), and each row to at least one format.
func TestLoadBalancers(t *testing.T) {
	f := LoadBalancers()
	types := []Type{Keyword, Long, IP, Date, Boolean, Binary, Text}
	if f.Name != "lb" || f.Title == "" || len(f.Indices) == 0 || len(f.Fields) != len(lbRows) {
		t.Fatalf("family %+v", f)
	}
	seen := map[string]bool{}
	for i, r := range f.Fields {
		switch {
		case r.Name == "" || seen[r.Name]:
			t.Errorf("field %q: empty or twice", r.Name)
		case !slices.Contains(types, r.Type):
			t.Errorf("field %s: type %q", r.Name, r.Type)
		case r.Source == "":
			t.Errorf("field %s: no source", r.Name)
		case r.Any:
			t.Errorf("field %s: unknown fields go to aws.elb.extra, not an Any row", r.Name)
		case lbFormats[i] == 0 || lbFormats[i]&^lbAll != 0:
			t.Errorf("field %s: formats %b", r.Name, lbFormats[i])
		}
		seen[r.Name] = true
		for _, o := range f.Fields {
			if strings.HasPrefix(o.Name, r.Name+".") {
				t.Errorf("field %s is a leaf and the parent of %s", r.Name, o.Name)
			}
		}
	}
	if !strings.Contains(Markdown(f), "| `aws.elb.extra (array)` | keyword |") {
		t.Errorf("Markdown:\n%s", Markdown(f))
	}
}

// TestLoadBalancerFields: each format's rows are the family's rows of that format, in family order, and what every
// document has is in all three.
func TestLoadBalancerFields(t *testing.T) {
	all := LoadBalancers().Names()
	for _, format := range []LBFormat{LBFormatALB, LBFormatNLB, LBFormatELB} {
		var names []string
		for _, r := range LoadBalancerFields(format) {
			names = append(names, r.Name)
		}
		for _, must := range []string{"@timestamp", "event.dataset", "source.ip", "aws.elb.name", "aws.elb.extra"} {
			if !slices.Contains(names, must) {
				t.Errorf("format %b: no %s", format, must)
			}
		}
		// In family order: a subsequence of all.
		i := 0
		for _, n := range all {
			if i < len(names) && names[i] == n {
				i++
			}
		}
		if i != len(names) {
			t.Errorf("format %b: rows out of family order: %v", format, names)
		}
	}
	got := LoadBalancerFields(LBFormatNLB)
	got[0].Name = "changed"
	if LoadBalancerFields(LBFormatNLB)[0].Name != "@timestamp" {
		t.Error("the registry changed through a copy")
	}
}
