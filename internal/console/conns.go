package console

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"
)

// The connection-sets page: what only kinflow computes. The final sets of closed windows (a final exists only once
// its window closed), the IPs with the most distinct peers and destination ports, the most rejected, per window.

// WindowsN is how many of the latest closed windows the page lists.
const WindowsN = 12

// A WindowSummary is one closed window.
type WindowSummary struct {
	Start    time.Time `json:"start"`
	IPs      int64     `json:"ips"`
	MaxPeers int64     `json:"max_peers"`
	Flows    int64     `json:"flows"`    // flows sent (each flow is sent by one IP)
	Rejected int64     `json:"rejected"` // rejected flows, counted at both ends
	// RejectedShare is rejected / (sent + received): each flow counts at both of its ends on both sides.
	RejectedShare float64 `json:"rejected_share"`
}

// A ConnSet is one IP's set in one window.
type ConnSet struct {
	IP             string    `json:"ip"`
	Start          time.Time `json:"start"`
	Peers          int64     `json:"peers"`
	PeersEstimated bool      `json:"peers_estimated"`
	Ports          int64     `json:"ports"`
	Sent           int64     `json:"sent"`
	Received       int64     `json:"received"`
	Rejected       int64     `json:"rejected"`
	RejectedShare  float64   `json:"rejected_share"`
	BytesSent      int64     `json:"bytes_sent"`
	BytesReceived  int64     `json:"bytes_received"`
	// Name and Country label the IP when the window's flows are enriched (enrichment.go); the lists only.
	Name    string `json:"name,omitempty"`
	Country string `json:"country,omitempty"`
}

// connSource is what a set's row reads of its document.
var connSource = []string{"ip", "window.start", "peers_count", "peers_estimated", "dst_ports_count", "flows", "bytes"}

type connDoc struct {
	IP     string `json:"ip"`
	Window struct {
		Start time.Time `json:"start"`
	} `json:"window"`
	PeersCount     int64 `json:"peers_count"`
	PeersEstimated bool  `json:"peers_estimated"`
	DstPortsCount  int64 `json:"dst_ports_count"`
	Flows          struct{ Sent, Received, Rejected int64 }
	Bytes          struct{ Sent, Received int64 }
}

func (d connDoc) set() ConnSet {
	c := ConnSet{IP: d.IP, Start: d.Window.Start.UTC(), Peers: d.PeersCount, PeersEstimated: d.PeersEstimated,
		Ports: d.DstPortsCount, Sent: d.Flows.Sent, Received: d.Flows.Received, Rejected: d.Flows.Rejected,
		BytesSent: d.Bytes.Sent, BytesReceived: d.Bytes.Received}
	if n := c.Sent + c.Received; n > 0 {
		c.RejectedShare = float64(c.Rejected) / float64(n)
	}
	return c
}

// connQuery is the query bar's clause for connection sets: the same text parsed against their fields. A query
// about flow fields (source.ip, event.action) does not apply to them; the page then says it was not applied.
func (s *Server) connQuery(sc scope) (scope, bool) {
	c := sc
	clause, err := parseQuery(sc.Query, s.fields.conns)
	if err != nil {
		c.clause = nil
		return c, sc.Query == ""
	}
	c.clause = clause
	return c, true
}

func (s *Server) handleConns(ctx context.Context, r *http.Request) (any, error) {
	// The query is judged by connQuery, against the sets' own fields.
	sc, err := s.rangeOf(r)
	if err != nil {
		return nil, err
	}
	sc, applied := s.connQuery(sc)
	windows, err := s.closedWindows(ctx, sc)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"from": sc.From, "to": sc.To, "query_applied": applied, "windows": windows}
	if len(windows) == 0 {
		return out, nil
	}
	start := windows[0].Start
	if v := r.URL.Query().Get("window"); v != "" {
		t, err := parseTime("window", v, start)
		if err != nil {
			return nil, err
		}
		start = t
	}
	out["window"] = start
	lists := map[string]string{"peers": "peers_count", "ports": "dst_ports_count", "rejected": "flows.rejected"}
	all := map[string][]ConnSet{}
	var ips []string
	for name, field := range lists {
		sets, err := s.topSets(ctx, sc, start, field, 20)
		if err != nil {
			return nil, err
		}
		all[name] = sets
		for _, c := range sets {
			if !slices.Contains(ips, c.IP) {
				ips = append(ips, c.IP)
			}
		}
	}
	// The sets know no names: the window's flows do.
	labels, err := s.labels(ctx, start, start.Add(s.cfg.Window), ips)
	if err != nil {
		return nil, err
	}
	for name, sets := range all {
		for i := range sets {
			l := labels[sets[i].IP]
			sets[i].Name, sets[i].Country = l.name, l.country
		}
		out[name] = sets
	}
	return out, nil
}

// closedWindows lists the latest windows with final sets in the scope, newest first.
func (s *Server) closedWindows(ctx context.Context, sc scope) ([]WindowSummary, error) {
	var res struct {
		Aggregations struct {
			Windows struct {
				Buckets []struct {
					Key      int64
					DocCount int64 `json:"doc_count"`
					MaxPeers json.RawMessage
					Sent     json.RawMessage
					Received json.RawMessage
					Rejected json.RawMessage
				}
			}
		}
	}
	err := s.search(ctx, finalsFamily, sc, map[string]any{"size": 0, "aggs": map[string]any{"windows": map[string]any{
		"terms": map[string]any{"field": "window.start", "size": WindowsN, "order": map[string]any{"_key": "desc"}},
		"aggs": map[string]any{"maxpeers": map[string]any{"max": map[string]any{"field": "peers_count"}},
			"sent": sum("flows.sent"), "received": sum("flows.received"), "rejected": sum("flows.rejected")},
	}}}, &res)
	if err != nil {
		return nil, err
	}
	out := []WindowSummary{}
	for _, b := range res.Aggregations.Windows.Buckets {
		w := WindowSummary{Start: time.UnixMilli(b.Key).UTC(), IPs: b.DocCount, MaxPeers: int64(value(b.MaxPeers)),
			Flows: int64(value(b.Sent)), Rejected: int64(value(b.Rejected))}
		if n := value(b.Sent) + value(b.Received); n > 0 {
			w.RejectedShare = value(b.Rejected) / n
		}
		out = append(out, w)
	}
	return out, nil
}

// topSets are the n sets of the window starting at start with the largest field, ties by IP.
func (s *Server) topSets(ctx context.Context, sc scope, start time.Time, field string, n int) ([]ConnSet, error) {
	return s.searchSets(ctx, sc, map[string]any{"size": n,
		"sort":  []any{map[string]any{field: "desc"}, map[string]any{"ip": "asc"}},
		"query": term("window.start", start.Format(time.RFC3339))})
}

// setsOf returns ip's sets in the scope, oldest window first (at most a week of 10-minute windows).
func (s *Server) setsOf(ctx context.Context, sc scope, ip string) ([]ConnSet, error) {
	return s.searchSets(ctx, sc, map[string]any{"size": 1008, "sort": []any{map[string]any{"window.start": "asc"}},
		"query": term("ip", ip)})
}

// searchSets returns the final sets that body's search finds in the scope, in its order, reading connSource.
func (s *Server) searchSets(ctx context.Context, sc scope, body map[string]any) ([]ConnSet, error) {
	body["_source"] = connSource
	var res struct {
		Hits struct {
			Hits []struct {
				Source connDoc `json:"_source"`
			}
		}
	}
	if err := s.search(ctx, finalsFamily, sc, body, &res); err != nil {
		return nil, err
	}
	out := make([]ConnSet, 0, len(res.Hits.Hits))
	for _, h := range res.Hits.Hits {
		out = append(out, h.Source.set())
	}
	return out, nil
}
