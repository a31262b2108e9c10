package schema

import (
	"slices"
	"strings"
)

// Type is how the index maps a field: the "type" of its mapping in Elasticsearch and OpenSearch alike.
type Type string

// The index types the encoders write.
const (
	Keyword Type = "keyword"
	Long    Type = "long"
	Double  Type = "double"
	IP      Type = "ip"
	Date    Type = "date" // RFC 3339 strings in UTC
	Boolean Type = "boolean"
	Binary  Type = "binary" // base64
	Text    Type = "text"
)

// HasDocValues reports whether the index keeps doc values (a column per field, what aggregations and sorting read)
// for the type by default.
func (t Type) HasDocValues() bool {
	switch t {
	case Keyword, Long, Double, IP, Date, Boolean:
		return true
	}
	return false
}

// A Field is one row of the registry: one field of the documents of a family.
type Field struct {
	// Name is the dotted path of the field in the document (event.start for {"event":{"start":...}}). With Any it
	// is a prefix ending in '.' or '_' instead.
	Name string
	Type Type
	// Array is set when the value is a JSON array of Type values.
	Array bool
	// NotIndexed keeps the value in _source without indexing it ("index": false): shown, never searched, and free
	// of keyword's term-length limit.
	NotIndexed bool
	// DocValuesOnly keeps the value's doc values but no inverted index or points ("index": false): it is still
	// searched, with the same results (each candidate document's value is read, which is slower when the field is
	// the only condition over a long range), aggregated and sorted on. For values too varied for their index to pay
	// for itself on disk and that no panel filters by: ids, counters, a copy of another field.
	DocValuesOnly bool
	// Source says what the value is made from: the input field(s), and how when it is derived.
	Source string
	// Description says what the value means, where the name and the source do not; the flow rows leave it empty
	// because their source names the AWS field, which AWS documents.
	Description string
	// Needs names the input fields (as the format names them: srcaddr, flow-direction) the value is made from, so
	// that an encoder leaves out of a format's plan what its lines can never have. Empty for a value every
	// document has or can have whatever the format.
	Needs []string
	// Any makes the row stand for every field under the prefix Name that no other row names: the values of a
	// format's fields kinflow does not know, mapped by the index's dynamic templates.
	Any bool
	// Enriched rows are written only when enrichment is configured (internal/enrich): an encoder skips them whole
	// without it.
	Enriched bool
}

// A Family is one kind of document: its fields in document order and the indices that hold it.
type Family struct {
	// Name names the family in the index templates (<prefix>-<name>-mappings) and in the README's markers.
	Name string
	// Title is what the README calls the documents.
	Title string
	// Indices are the index name patterns, after "<prefix>-", that hold the family's documents.
	Indices []string
	Fields  []Field
}

// Families returns every document family, in the order the templates install them.
func Families() []Family {
	return []Family{Flows(), Partials(), Conns(), DeadLetters(), Alerts(), LoadBalancers()}
}

// Lookup returns the row of the field at path: the row of that name, or else the Any row with the longest prefix
// of it.
func (f Family) Lookup(path string) (Field, bool) {
	var best Field
	found := false
	for _, r := range f.Fields {
		switch {
		case !r.Any && r.Name == path:
			return r, true
		case r.Any && strings.HasPrefix(path, r.Name) && len(path) > len(r.Name) && (!found || len(r.Name) > len(best.Name)):
			best, found = r, true
		}
	}
	return best, found
}

// Names returns the names of the rows that are not Any, in order.
func (f Family) Names() []string {
	var out []string
	for _, r := range f.Fields {
		if !r.Any {
			out = append(out, r.Name)
		}
	}
	return out
}

// clone copies a family's slices, so a caller cannot change the registry through what it was given.
func (f Family) clone() Family {
	f.Indices = slices.Clone(f.Indices)
	f.Fields = slices.Clone(f.Fields)
	for i := range f.Fields {
		f.Fields[i].Needs = slices.Clone(f.Fields[i].Needs)
	}
	return f
}
