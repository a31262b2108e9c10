package vpcflow_test

import (
	"os"
	"strings"
	"testing"
)

// README.md carries the field table users read; it must be the one the encoder's table generates
// (testdata/ecs-fields.md, itself kept current by the golden tests).
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
