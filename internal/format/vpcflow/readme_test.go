package vpcflow_test

import (
	"os"
	"strings"
	"testing"
)

// README.md carries the field table users read, generated from the registry (internal/schema's TestREADME); the
// encoder's own table (testdata/ecs-fields.md, kept current by TestDocumentTable) must be in it, row for row.
func TestREADMECarriesTheFieldTable(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	table, err := os.ReadFile("testdata/ecs-fields.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range strings.Split(strings.TrimSpace(string(table)), "\n") {
		if !strings.Contains(string(readme), row) {
			t.Errorf("README.md lacks the field table row %s", row)
		}
	}
}
