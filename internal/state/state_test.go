package state

import (
	"testing"
)

func TestNewValidates(t *testing.T) {
	_, err := New(nil, "x")
	if err == nil {
		t.Fatal("New(nil, \"x\") succeeded")
	}
	want := "state: a DynamoDB client is required\n" +
		`state: table name "x": want 3 to 255 characters of a-z, A-Z, 0-9, '_', '-', '.'`
	if err.Error() != want {
		t.Fatalf("error:\n%s\nwant:\n%s", err, want)
	}
}
