package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// counter sums the values of a counter family in reg.
func counter(reg *prometheus.Registry, name string) float64 {
	families, _ := reg.Gather()
	total := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			total += m.GetCounter().GetValue()
		}
	}
	return total
}

// countFinals counts the final connection sets in the index.
func countFinals(ctx context.Context, url, prefix string) int {
	var count struct {
		Count int `json:"count"`
	}
	queryJSON(ctx, url+"/"+prefix+"-conns-2*/_refresh", "", nil)
	queryJSON(ctx, url+"/"+prefix+"-conns-2*/_count", "", &count)
	return count.Count
}

// countAlerts counts the alerts (episodes) the detections raised and still stand.
func countAlerts(ctx context.Context, url, prefix string) int {
	var count struct {
		Count int `json:"count"`
	}
	queryJSON(ctx, url+"/"+prefix+"-alerts-*/_refresh", "", nil)
	queryJSON(ctx, url+"/"+prefix+"-alerts-*/_count", `{"query":{"bool":{"filter":[{"term":{"event.kind":"alert"}},{"term":{"alert.status":"active"}}]}}}`, &count)
	return count.Count
}

// report prints what a dashboard would show first: rejected flows, and the IPs with the most distinct peers in one
// closed window (from the final connection sets).
func report(ctx context.Context, w io.Writer, url, prefix string) error {
	var count struct {
		Count int `json:"count"`
	}
	if _, err := queryJSON(ctx, url+"/"+prefix+"-flows-*/_refresh", "", nil); err != nil {
		return err
	}
	queryJSON(ctx, url+"/"+prefix+"-conns-2*/_refresh", "", nil)
	if _, err := queryJSON(ctx, url+"/"+prefix+"-flows-*/_count", `{"query":{"term":{"event.action":"reject"}}}`, &count); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s-flows-*: %d rejected flows (try source.ip:10.0.0.0/8 AND event.action:reject)\n", prefix, count.Count)
	var top struct {
		Aggregations struct {
			IPs struct {
				Buckets []struct {
					Key   string `json:"key"`
					Peers struct {
						Value float64 `json:"value"`
					} `json:"peers"`
					Rejected struct {
						Value float64 `json:"value"`
					} `json:"rejected"`
				} `json:"buckets"`
			} `json:"ips"`
		} `json:"aggregations"`
	}
	q := `{"size":0,"aggs":{"ips":{"terms":{"field":"ip","size":5,"order":{"peers":"desc"}},
		"aggs":{"peers":{"max":{"field":"peers_count"}},"rejected":{"sum":{"field":"flows.rejected"}}}}}}`
	if _, err := queryJSON(ctx, url+"/"+prefix+"-conns-2*/_search", q, &top); err != nil {
		return err
	}
	fmt.Fprintln(w, "most distinct peers in one closed 10-minute window (final connection sets):")
	for _, b := range top.Aggregations.IPs.Buckets {
		fmt.Fprintf(w, "  %-16s %6.0f peers  %6.0f rejected flows\n", b.Key, b.Peers.Value, b.Rejected.Value)
	}
	return nil
}

// queryJSON POSTs body and decodes the answer into out when out is not nil.
func queryJSON(ctx context.Context, url, body string, out any) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("querying %s: %w", url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return b, fmt.Errorf("querying %s: %s: %s", url, res.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return b, fmt.Errorf("answer of %s: %w", url, err)
		}
	}
	return b, nil
}
