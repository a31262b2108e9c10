package kql

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// FuzzParse holds Parse to its promises on any input: no panic, a *SyntaxError with an offset inside the query for
// bad input, DSL that marshals to JSON for good input, and the same answer every time (the field map is a Go map,
// whose order must never leak into the DSL).
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		if len(tc.query) <= 1024 { // the size-limit cases would make every mutation slow to run and to minimize
			f.Add(tc.query)
		}
	}
	f.Fuzz(func(t *testing.T, q string) {
		for _, fields := range []map[string]string{flows, small} {
			got, err := Parse(q, fields)
			if err != nil {
				var se *SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("Parse(%q): %T %v, want a *SyntaxError", q, err, err)
				}
				if se.Offset < 0 || se.Offset > len(q) || se.Query != q || se.Msg == "" {
					t.Fatalf("Parse(%q): error %+v out of the query", q, se)
				}
				continue
			}
			first, err := json.Marshal(got)
			if err != nil {
				t.Fatalf("Parse(%q): DSL does not marshal: %v", q, err)
			}
			again, err := Parse(q, fields)
			if err != nil {
				t.Fatalf("Parse(%q): good once, then %v", q, err)
			}
			if second, _ := json.Marshal(again); string(first) != string(second) {
				t.Fatalf("Parse(%q) is not deterministic:\n%s\n%s", q, first, second)
			}
			if !reflect.DeepEqual(got, again) {
				t.Fatalf("Parse(%q): equal JSON from different values", q)
			}
		}
	})
}
