package console

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
)

// The flows page: the flows of the scope, newest first, a page at a time, and one flow's whole document.

// flowColumns are the fields a table row shows; the document page shows everything.
var flowColumns = []string{"@timestamp", "event.action", "source.ip", "source.port", "destination.ip", "destination.port",
	"network.transport", "network.bytes", "network.packets", "network.direction", "aws.vpcflow.interface_id", "cloud.account.id"}

// flowSort is a total order, so search_after pages neither skip nor repeat a flow: event time, then the CloudWatch
// Logs event id and stream (unique together). _id cannot be sorted on by default in Elasticsearch 8.
var flowSort = []any{
	map[string]any{"@timestamp": map[string]any{"order": "desc"}},
	map[string]any{"event.id": map[string]any{"order": "asc", "missing": "_last"}},
	map[string]any{"aws.cloudwatch.log_stream": map[string]any{"order": "asc", "missing": "_last"}},
}

// A FlowHit is one flow of a table: its index and id (for its document) and its source.
type FlowHit struct {
	Index  string          `json:"index"`
	ID     string          `json:"id"`
	Source json.RawMessage `json:"source"`
	Sort   json.RawMessage `json:"-"`
}

// FlowPage is a page of flows: Next is the cursor of the following page (empty on the last).
type FlowPage struct {
	Total int64     `json:"total"`
	Flows []FlowHit `json:"flows"`
	Next  string    `json:"next,omitempty"`
}

type hitsResult struct {
	Hits struct {
		Total struct{ Value int64 }
		Hits  []struct {
			Index  string          `json:"_index"`
			ID     string          `json:"_id"`
			Source json.RawMessage `json:"_source"`
			Sort   json.RawMessage `json:"sort"`
		}
	}
}

func (h hitsResult) flows() []FlowHit {
	out := make([]FlowHit, 0, len(h.Hits.Hits))
	for _, x := range h.Hits.Hits {
		out = append(out, FlowHit{Index: x.Index, ID: x.ID, Source: x.Source, Sort: x.Sort})
	}
	return out
}

// flowPage reads one page of the scope's flows (extra: the panel's own query, nil for none) after the cursor.
func (s *Server) flowPage(ctx context.Context, sc scope, extra any, size int, after string) (FlowPage, error) {
	body := map[string]any{"size": size, "sort": flowSort, "_source": flowColumns, "track_total_hits": true}
	if extra != nil {
		body["query"] = extra
	}
	if after != "" {
		var a []any
		if err := json.Unmarshal([]byte(after), &a); err != nil || len(a) != len(flowSort) {
			return FlowPage{}, badRequest("after: not a cursor of this table")
		}
		body["search_after"] = a
	}
	var res hitsResult
	if err := s.search(ctx, flowsFamily, sc, body, &res); err != nil {
		return FlowPage{}, err
	}
	p := FlowPage{Total: res.Hits.Total.Value, Flows: res.flows()}
	if len(p.Flows) == size {
		p.Next = string(p.Flows[size-1].Sort)
	}
	return p, nil
}

func (s *Server) handleFlows(ctx context.Context, r *http.Request) (any, error) {
	sc, err := s.scopeOf(r, s.fields.flows)
	if err != nil {
		return nil, err
	}
	size := 50
	if v := r.URL.Query().Get("size"); v != "" {
		if size, err = strconv.Atoi(v); err != nil || size < 1 || size > 1000 {
			return nil, badRequest("size %q: want 1 to 1000", v)
		}
	}
	return s.flowPage(ctx, sc, nil, size, r.URL.Query().Get("after"))
}

// handleFlow returns one flow's document by id, from any flow index: the id is unique across days.
func (s *Server) handleFlow(ctx context.Context, r *http.Request) (any, error) {
	id := r.URL.Query().Get("id")
	if id == "" || len(id) > 512 {
		return nil, badRequest("id: required")
	}
	var res hitsResult
	err := s.search(ctx, flowsFamily, scope{}, map[string]any{"size": 1, "query": map[string]any{"ids": map[string]any{"values": []string{id}}}}, &res)
	if err != nil {
		return nil, err
	}
	if len(res.Hits.Hits) == 0 {
		return nil, &apiError{Status: http.StatusNotFound, Msg: "no flow with id " + id}
	}
	h := res.Hits.Hits[0]
	return FlowHit{Index: h.Index, ID: h.ID, Source: h.Source}, nil
}
