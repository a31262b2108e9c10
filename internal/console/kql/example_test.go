package kql_test

import (
	"encoding/json"
	"fmt"

	"github.com/kinflow/kinflow/internal/console/kql"
	"github.com/kinflow/kinflow/internal/schema"
)

// The seed query of the security console, as users type it in Kibana, over the flow documents' fields.
func ExampleParse() {
	q, err := kql.Parse(`source.ip:10.0.0.0/8 AND event.action:reject AND destination.ip:*`, kql.Fields(schema.Flows()))
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := json.Marshal(q)
	fmt.Println(string(b))
	// Output:
	// {"bool":{"filter":[{"term":{"source.ip":"10.0.0.0/8"}},{"term":{"event.action":"reject"}},{"exists":{"field":"destination.ip"}}]}}
}

// A query that cannot be read says where.
func ExampleParse_error() {
	_, err := kql.Parse(`sorce.ip:10.0.0.5`, kql.Fields(schema.Flows()))
	fmt.Println(err)
	// Output:
	// query: unknown field "sorce.ip" (did you mean "source.ip"?) (at offset 0)
}

// The console joins the query bar with the time range of the page.
func ExampleAnd() {
	bar, _ := kql.Parse(``, kql.Fields(schema.Flows())) // an empty bar is match_all, which drops out
	window := map[string]any{"range": map[string]any{"@timestamp": map[string]any{"gte": "now-15m"}}}
	b, _ := json.Marshal(kql.And(bar, window))
	fmt.Println(string(b))
	// Output:
	// {"range":{"@timestamp":{"gte":"now-15m"}}}
}
