package console_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/kinflow/kinflow/internal/console"
	"github.com/kinflow/kinflow/internal/sink/elastic"
)

// The console's client lets only reads reach the cluster, whatever a page asks.
func ExampleAllowedRead() {
	for _, r := range [][2]string{
		{"POST", "/kinflow-flows-*/_search?ignore_unavailable=true"},
		{"DELETE", "/kinflow-flows-*"},
		{"POST", "/_bulk"},
	} {
		fmt.Println(r[0], r[1], console.AllowedRead(r[0], r[1]))
	}
	// Output:
	// POST /kinflow-flows-*/_search?ignore_unavailable=true true
	// DELETE /kinflow-flows-* false
	// POST /_bulk false
}

// A console over a cluster client: its Handler serves the pages and the JSON API (Serve adds the listener's checks).
func ExampleNew() {
	ec := elastic.DefaultConfig() // http://127.0.0.1:9200
	client, err := elastic.NewClient(ec)
	if err != nil {
		panic(err)
	}
	srv, err := console.New(console.DefaultConfig(), client, nil, nil)
	if err != nil {
		panic(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	fmt.Println(len(console.Pages()), "pages in the nav")
	// Output: 6 pages in the nav
}
