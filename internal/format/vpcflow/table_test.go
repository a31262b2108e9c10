package vpcflow

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

var printTable = flag.Bool("table", false, "print the ECS mapping table as Markdown")

// TestDocumentTable keeps testdata/ecs-fields.md, the table the README carries, in step with the code.
func TestDocumentTable(t *testing.T) {
	var b strings.Builder
	b.WriteString("| field | type | from |\n|---|---|---|\n")
	for _, f := range DocumentFields() {
		name := f.Name
		if f.Array {
			name += " (array)"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", name, f.Type, strings.ReplaceAll(f.Source, "|", "\\|"))
	}
	fmt.Fprintf(&b, "| `%s<unknown field>` | keyword | any field of a custom format that kinflow does not know, '-' as '_' |\n", UnknownFieldsPrefix)
	if *printTable {
		fmt.Print(b.String())
	}
	golden(t, filepath.Join("testdata", "ecs-fields.md"), []byte(b.String()))
}
