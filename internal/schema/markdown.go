package schema

import (
	"fmt"
	"strings"
)

// Markdown returns the family's field table as the README carries it: field, type and source, and a meaning
// column when a row of the family has a description. Arrays are marked on the name, Any rows shown as
// <prefix><unknown field>.
func Markdown(f Family) string {
	described := false
	for _, r := range f.Fields {
		described = described || r.Description != ""
	}
	var b strings.Builder
	if described {
		b.WriteString("| field | type | from | meaning |\n|---|---|---|---|\n")
	} else {
		b.WriteString("| field | type | from |\n|---|---|---|\n")
	}
	for _, r := range f.Fields {
		name := r.Name
		if r.Any {
			name += "<unknown field>"
		}
		if r.Array {
			name += " (array)"
		}
		typ := string(r.Type)
		switch {
		case r.NotIndexed:
			typ += " (not indexed)"
		case r.DocValuesOnly:
			typ += " (doc values only)"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |", name, typ, cell(r.Source))
		if described && r.Description != "" {
			fmt.Fprintf(&b, " %s |", cell(r.Description))
		} else if described {
			b.WriteString(" |")
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// markers returns the comments that enclose a family's table in a Markdown document.
func markers(f Family) (begin, end string) {
	return "<!-- fields:" + f.Name + ":begin -->", "<!-- fields:" + f.Name + ":end -->"
}

// spliceTables replaces what lies between each family's markers in doc with the family's table, touching nothing
// else. Every family's markers must be there, once and in order.
func spliceTables(doc string, families []Family) (string, error) {
	for _, f := range families {
		begin, end := markers(f)
		i := strings.Index(doc, begin)
		j := strings.Index(doc, end)
		switch {
		case i < 0 || j < 0:
			return "", fmt.Errorf("no %s ... %s", begin, end)
		case j < i:
			return "", fmt.Errorf("%s before %s", end, begin)
		case strings.Count(doc, begin) > 1 || strings.Count(doc, end) > 1:
			return "", fmt.Errorf("%s or %s more than once", begin, end)
		}
		// Blank lines around the table: without them a Markdown renderer may take a marker for a row.
		doc = doc[:i+len(begin)] + "\n\n" + Markdown(f) + "\n" + doc[j:]
	}
	return doc, nil
}
