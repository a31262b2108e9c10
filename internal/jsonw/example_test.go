package jsonw_test

import (
	"fmt"

	"github.com/kinflow/kinflow/internal/jsonw"
)

// A document's fields appended into one reused buffer.
func Example() {
	doc := []byte(`{"@timestamp":`)
	doc = jsonw.AppendDate(doc, 1700000000120)
	doc = append(doc, `,"window_start":`...)
	doc = jsonw.AppendDateSeconds(doc, 1700000400)
	doc = append(doc, `,"message":`...)
	doc = jsonw.AppendString(doc, "tab\there, \"quoted\", <kept>, bad \xff byte")
	doc = append(doc, '}')
	fmt.Println(string(doc))
	// Output: {"@timestamp":"2023-11-14T22:13:20.120Z","window_start":"2023-11-14T22:20:00Z","message":"tab\there, \"quoted\", <kept>, bad \ufffd byte"}
}
