package main

import (
	"encoding/json"
	"io"
	"time"
)

// emfValue is one metric of an embedded-metric-format line.
type emfValue struct {
	name  string
	unit  string // CloudWatch unit: Count, Seconds, Milliseconds
	value float64
}

// writeEMF writes one CloudWatch embedded-metric-format line to w (nil: nowhere): CloudWatch turns the function's
// log output into metrics in namespace kinflow, dimension Service=kinflow, without API calls.
func writeEMF(w io.Writer, at time.Time, values []emfValue) {
	if w == nil {
		return
	}
	type metric struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	line := map[string]any{"Service": "kinflow"}
	metrics := make([]metric, len(values))
	for i, v := range values {
		metrics[i] = metric{v.name, v.unit}
		line[v.name] = v.value
	}
	line["_aws"] = map[string]any{
		"Timestamp": at.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  "kinflow",
			"Dimensions": [][]string{{"Service"}},
			"Metrics":    metrics,
		}},
	}
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	// One Write per line: the Lambda log collector must not see half a line from one call and the rest later.
	w.Write(append(b, '\n'))
}
