package sink

import (
	"encoding/json"
	"strconv"
)

// bulkResponse is a _bulk answer cut down by BulkFilterPath.
type bulkResponse struct {
	Errors bool       `json:"errors"`
	Items  []bulkItem `json:"items"`
}

// bulkItem holds the one action key each item has.
type bulkItem struct {
	Create *itemResult `json:"create"`
	Index  *itemResult `json:"index"`
	Update *itemResult `json:"update"`
	Delete *itemResult `json:"delete"`
}

func (b bulkItem) result() itemResult {
	for _, r := range []*itemResult{b.Create, b.Index, b.Update, b.Delete} {
		if r != nil {
			return *r
		}
	}
	return itemResult{}
}

type itemResult struct {
	Status int        `json:"status"`
	Error  *itemError `json:"error"`
}

type itemError struct {
	Type     string `json:"type"`
	Reason   string `json:"reason"`
	CausedBy *struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"caused_by"`
}

// describe returns the short machine reason (the error type) and the full message.
func (e *itemError) describe(status int) (typ, msg string) {
	if e == nil || e.Type == "" {
		return "status_" + strconv.Itoa(status), "item refused with status " + strconv.Itoa(status)
	}
	msg = e.Type + ": " + e.Reason
	if e.CausedBy != nil && (e.CausedBy.Type != "" || e.CausedBy.Reason != "") {
		msg += "; caused by " + e.CausedBy.Type + ": " + e.CausedBy.Reason
	}
	return e.Type, msg
}

// requestError reads the error of a whole-request failure ({"error":{...},"status":N}).
func requestError(status int, body []byte) (typ, msg string) {
	var r struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &r) == nil && len(r.Error) > 0 {
		var e itemError
		if json.Unmarshal(r.Error, &e) == nil && e.Type != "" {
			return e.describe(status)
		}
		var s string
		if json.Unmarshal(r.Error, &s) == nil && s != "" {
			return "status_" + strconv.Itoa(status), s
		}
	}
	return "status_" + strconv.Itoa(status), "request refused with status " + strconv.Itoa(status) + ": " + errorSummary(body)
}

// errorSummary shortens an error body for a log line.
func errorSummary(body []byte) string {
	const n = 512
	if len(body) > n {
		return string(body[:n]) + "..."
	}
	return string(body)
}
