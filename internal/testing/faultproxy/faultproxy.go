// Package faultproxy is a test helper: an HTTP proxy in front of a real Elasticsearch or OpenSearch cluster that
// injects the failures a sink must survive. It can answer whole requests with an error status, reset connections,
// answer chosen _bulk items with an error status (those items are not forwarded, so the cluster never sees them,
// as with a real per-item 429), and go dark for a while (its listener closed and every connection cut, as when
// the cluster is stopped), then come back on the same address.
//
// It records how many times each bulk item reached the proxy and how many times it was forwarded, so a test can
// prove that only failed items were resent.
package faultproxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// A Fault is what to do with one whole request.
type Fault struct {
	Status int  // answer with this status without forwarding (e.g. 429, 503)
	Reset  bool // reset the connection without answering
}

// Faults chooses the failures. Both functions may be nil and are called with the proxy's lock held.
type Faults struct {
	// Request is asked about the n-th request (1-based, counting every request).
	Request func(n int) Fault
	// Item is asked about each bulk item: attempt counts the times this _id has reached the proxy (1-based).
	// A non-zero status is answered for the item instead of forwarding it.
	Item func(id string, attempt int) int
}

// Stats counts what the proxy did.
type Stats struct {
	Requests, Forwarded, FailedRequests, Resets, FailedItems int
}

// Proxy forwards to one cluster.
type Proxy struct {
	target *url.URL
	addr   string
	client *http.Client

	mu        sync.Mutex
	ln        net.Listener
	srv       *http.Server
	conns     map[net.Conn]struct{}
	faults    Faults
	requests  int
	attempts  map[string]int
	forwarded map[string]int
	stats     Stats
	closed    bool
	downUntil time.Time
}

// New starts a proxy on 127.0.0.1 (a free port) in front of target.
func New(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("faultproxy target: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		target:    u,
		addr:      ln.Addr().String(),
		client:    &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 2 * time.Minute},
		conns:     map[net.Conn]struct{}{},
		attempts:  map[string]int{},
		forwarded: map[string]int{},
	}
	p.serve(ln)
	return p, nil
}

func (p *Proxy) serve(ln net.Listener) {
	srv := &http.Server{
		Handler: p,
		ConnState: func(c net.Conn, s http.ConnState) {
			p.mu.Lock()
			defer p.mu.Unlock()
			switch s {
			case http.StateNew:
				p.conns[c] = struct{}{}
			case http.StateClosed, http.StateHijacked:
				delete(p.conns, c)
			}
		},
	}
	p.ln, p.srv = ln, srv
	go srv.Serve(ln) //nolint:errcheck // returns when the listener closes
}

// URL is the proxy's address, to give the sink instead of the cluster's.
func (p *Proxy) URL() string { return "http://" + p.addr }

// SetFaults replaces the fault rules.
func (p *Proxy) SetFaults(f Faults) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = f
}

// Down takes the proxy dark now: the listener closes (new connections are refused) and open connections are cut.
// After d it listens again on the same address. It returns at once; Up reports when the proxy is back.
func (p *Proxy) Down(d time.Duration) <-chan error {
	p.mu.Lock()
	p.downUntil = time.Now().Add(d)
	srv := p.srv
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	srv.Close() // closes the listener and every connection it tracks
	up := make(chan error, 1)
	go func() {
		time.Sleep(d)
		var ln net.Listener
		var err error
		for range 50 { // the port may linger briefly
			if ln, err = net.Listen("tcp", p.addr); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			up <- fmt.Errorf("faultproxy: listening again on %s: %w", p.addr, err)
			return
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			ln.Close()
			up <- nil
			return
		}
		p.serve(ln)
		p.mu.Unlock()
		up <- nil
	}()
	return up
}

// Close stops the proxy.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	srv := p.srv
	p.mu.Unlock()
	srv.Close()
}

// Stats returns the counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Forwarded returns, per _id, how many times a bulk item was forwarded to the cluster.
func (p *Proxy) Forwarded() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.forwarded))
	for k, v := range p.forwarded {
		out[k] = v
	}
	return out
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.requests++
	var f Fault
	if p.faults.Request != nil {
		f = p.faults.Request(p.requests)
	}
	p.stats.Requests++
	switch {
	case f.Reset:
		p.stats.Resets++
	case f.Status != 0:
		p.stats.FailedRequests++
	}
	p.mu.Unlock()

	switch {
	case f.Reset:
		reset(w)
		return
	case f.Status != 0:
		writeError(w, f.Status)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		reset(w)
		return
	}
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/_bulk") {
		p.bulk(w, r, body)
		return
	}
	res, err := p.forward(r, body)
	if err != nil {
		reset(w)
		return
	}
	defer res.Body.Close()
	copyHeader(w.Header(), res.Header)
	w.WriteHeader(res.StatusCode)
	io.Copy(w, res.Body) //nolint:errcheck // the client sees a short body
}

type bulkItem struct {
	op, index, id string
	lines         []byte // action (and source) lines
	fakeStatus    int
}

func (p *Proxy) bulk(w http.ResponseWriter, r *http.Request, body []byte) {
	items, err := splitBulk(body)
	if err != nil {
		writeError(w, http.StatusBadRequest)
		return
	}
	var fwd bytes.Buffer
	p.mu.Lock()
	for i := range items {
		it := &items[i]
		p.attempts[it.id]++
		if p.faults.Item != nil {
			it.fakeStatus = p.faults.Item(it.id, p.attempts[it.id])
		}
		if it.fakeStatus != 0 {
			p.stats.FailedItems++
		} else {
			fwd.Write(it.lines)
		}
	}
	p.mu.Unlock()

	var upItems []json.RawMessage
	upErrors := false
	header := http.Header{"X-Elastic-Product": {"Elasticsearch"}, "Content-Type": {"application/json"}}
	if fwd.Len() > 0 {
		res, err := p.forward(r, fwd.Bytes())
		if err != nil {
			reset(w)
			return
		}
		defer res.Body.Close()
		resp, err := io.ReadAll(res.Body)
		if err != nil {
			reset(w)
			return
		}
		if res.StatusCode/100 != 2 {
			copyHeader(w.Header(), res.Header)
			w.WriteHeader(res.StatusCode)
			w.Write(resp) //nolint:errcheck
			return
		}
		var up struct {
			Errors bool              `json:"errors"`
			Items  []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(resp, &up); err != nil {
			writeError(w, http.StatusBadGateway)
			return
		}
		upItems, upErrors = up.Items, up.Errors
		header = res.Header
		p.mu.Lock()
		for _, it := range items {
			if it.fakeStatus == 0 {
				p.forwarded[it.id]++
			}
		}
		p.mu.Unlock()
	}
	out := []byte(`{"errors":`)
	out = fmt.Appendf(out, "%t", upErrors || len(upItems) < len(items))
	out = append(out, `,"items":[`...)
	next := 0
	for i, it := range items {
		if i > 0 {
			out = append(out, ',')
		}
		if it.fakeStatus != 0 {
			typ := "es_rejected_execution_exception"
			if it.fakeStatus != http.StatusTooManyRequests {
				typ = "unavailable_shards_exception"
			}
			out = fmt.Appendf(out, `{%q:{"_index":%q,"_id":%q,"status":%d,"error":{"type":%q,"reason":"injected by faultproxy"}}}`,
				it.op, it.index, it.id, it.fakeStatus, typ)
			continue
		}
		if next >= len(upItems) {
			writeError(w, http.StatusBadGateway)
			return
		}
		out = append(out, upItems[next]...)
		next++
	}
	out = append(out, "]}"...)
	copyHeader(w.Header(), header)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(out) //nolint:errcheck
}

// splitBulk cuts an NDJSON bulk body into items (create/index carry a source line; delete does not).
func splitBulk(body []byte) ([]bulkItem, error) {
	var items []bulkItem
	for len(body) > 0 {
		nl := bytes.IndexByte(body, '\n')
		if nl < 0 {
			return nil, errors.New("bulk body does not end with a newline")
		}
		action := body[:nl]
		var a map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(action, &a); err != nil || len(a) != 1 {
			return nil, fmt.Errorf("bulk action line %q", action)
		}
		var it bulkItem
		for op, meta := range a {
			it.op, it.index, it.id = op, meta.Index, meta.ID
		}
		end := nl + 1
		if it.op != "delete" {
			src := bytes.IndexByte(body[end:], '\n')
			if src < 0 {
				return nil, errors.New("bulk source line without a newline")
			}
			end += src + 1
		}
		it.lines = body[:end]
		body = body[end:]
		items = append(items, it)
	}
	return items, nil
}

func (p *Proxy) forward(r *http.Request, body []byte) (*http.Response, error) {
	u := *p.target
	u.Path = strings.TrimRight(u.Path, "/") + r.URL.Path
	u.RawQuery = r.URL.RawQuery
	req, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	copyHeader(req.Header, r.Header)
	req.Header.Del("Accept-Encoding") // let net/http negotiate and decompress
	p.mu.Lock()
	p.stats.Forwarded++
	p.mu.Unlock()
	return p.client.Do(req)
}

func copyHeader(dst, src http.Header) {
	for k, v := range src {
		switch http.CanonicalHeaderKey(k) {
		case "Content-Length", "Content-Encoding", "Transfer-Encoding", "Connection":
			continue
		}
		dst[k] = v
	}
}

func writeError(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"type":"injected","reason":"faultproxy answered %d"},"status":%d}`, status, status)
}

// reset closes the client's connection abruptly (RST), without an answer.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok { // net/http's HTTP/1 writer always can; answer something rather than nothing
		writeError(w, http.StatusBadGateway)
		return
	}
	c, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0) //nolint:errcheck
	}
	c.Close()
}
