package config

import (
	"os"
	"strings"
	"testing"
)

// README.md documents every environment variable; a setting added here without a README row fails.
func TestREADMEListsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Variables() {
		if !strings.Contains(string(readme), "`"+v[0]+"`") {
			t.Errorf("README.md does not document %s (%s)", v[0], v[1])
		}
	}
}
