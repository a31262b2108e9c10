package testenv

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/kinflow/kinflow/aggregate"
)

// Count refreshes the indices matching pattern on the cluster at url and returns how many documents they hold;
// 0 when no index matches, or when the only one is still starting (see Searchable).
func Count(tb testing.TB, url, pattern string) int {
	tb.Helper()
	refresh(url + "/" + pattern)
	return Searchable(tb, url, pattern)
}

// Searchable returns how many documents the indices matching pattern on the cluster at url show a search now,
// without refreshing them first: what a dashboard sees, once the index's own refresh (every second while it is
// searched) made them visible. Count refreshes, and every refresh makes a segment: polling it while a load runs
// makes the cluster refresh as often as the poll and index slower than it would for any reader.
//
// An index whose shard is still starting (just created by the load being watched) answers 503
// no_shard_available_action_exception: it shows nothing yet, so that counts 0 rather than failing the poll.
func Searchable(tb testing.TB, url, pattern string) int {
	tb.Helper()
	u := url + "/" + pattern + "/_count?ignore_unavailable=true&allow_no_indices=true"
	status, b := send(tb, http.MethodGet, u, "")
	if status == http.StatusServiceUnavailable && strings.Contains(string(b), "no_shard_available_action_exception") {
		return 0
	}
	var c struct{ Count int }
	decode(tb, http.MethodGet, u, status, b, &c)
	return c.Count
}

// Get sends GET url, refreshing nothing, and decodes its 200 answer into out.
func Get(tb testing.TB, url string, out any) {
	tb.Helper()
	do(tb, http.MethodGet, url, "", out)
}

// Sources refreshes the indices matching pattern and returns the _source of their documents (at most 10,000);
// none when no index matches.
func Sources(tb testing.TB, url, pattern string) []json.RawMessage {
	tb.Helper()
	var r struct {
		Hits struct {
			Hits []struct {
				Source json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	request(tb, http.MethodPost, url+"/"+pattern+"/_search?size=10000&ignore_unavailable=true&allow_no_indices=true",
		`{"query":{"match_all":{}}}`, &r)
	out := make([]json.RawMessage, len(r.Hits.Hits))
	for i, h := range r.Hits.Hits {
		out[i] = h.Source
	}
	return out
}

// Search refreshes the indices matching pattern, runs the search body on them and decodes the answer into out.
func Search(tb testing.TB, url, pattern, body string, out any) {
	tb.Helper()
	request(tb, http.MethodPost, url+"/"+pattern+"/_search?ignore_unavailable=true&allow_no_indices=true", body, out)
}

// DropPrefix deletes the indices and index templates named prefix-* when tb ends.
func DropPrefix(tb testing.TB, url, prefix string) {
	tb.Cleanup(func() {
		for _, path := range []string{"/" + prefix + "-*", "/_index_template/" + prefix + "-*"} {
			req, _ := http.NewRequest(http.MethodDelete, url+path, nil)
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close()
			}
		}
	})
}

// request refreshes what the URL's index pattern names, sends the request and decodes the answer into out.
func request(tb testing.TB, method, url, body string, out any) {
	tb.Helper()
	refresh(url[:strings.LastIndex(url, "/")])
	do(tb, method, url, body, out)
}

// refresh asks the cluster to refresh the indices of target (<url>/<pattern>); a failure shows in what follows.
func refresh(target string) {
	if res, err := http.Post(target+"/_refresh?ignore_unavailable=true&allow_no_indices=true", "application/json", nil); err == nil {
		res.Body.Close()
	}
}

// do sends one request and decodes its 200 answer into out.
func do(tb testing.TB, method, url, body string, out any) {
	tb.Helper()
	status, b := send(tb, method, url, body)
	decode(tb, method, url, status, b, out)
}

// send sends one request and returns the answer's status and body.
func send(tb testing.TB, method, url, body string) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 256<<20))
	return res.StatusCode, b
}

// decode fails tb unless the answer of method url is a 200 whose body b decodes into out.
func decode(tb testing.TB, method, url string, status int, b []byte, out any) {
	tb.Helper()
	if status != http.StatusOK {
		tb.Fatalf("%s %s: %d %s: %s", method, url, status, http.StatusText(status), b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		tb.Fatalf("%s %s: %v: %s", method, url, err, b)
	}
}

// MergedPartials reads the blocks of partial connection sets under <prefix>-conns-partial-* on the cluster at url
// and merges them as the finalizer does (aggregate.FinalizeBlocks: a block read twice counts once, superseded ones
// not at all), keyed "<window start> <ip>". It also returns how many block documents there are.
func MergedPartials(tb testing.TB, url, prefix string) (map[string]aggregate.Final, int) {
	tb.Helper()
	sources := Sources(tb, url, prefix+"-conns-partial-*")
	blocks := make([]aggregate.Block, len(sources))
	for i, src := range sources {
		var err error
		if blocks[i], err = aggregate.DecodeBlock(src); err != nil {
			tb.Fatalf("block %s: %v", src, err)
		}
	}
	finals, err := aggregate.FinalizeBlocks(blocks, aggregate.DefaultConfig().MaxExactPeers, 1)
	if err != nil {
		tb.Fatal(err)
	}
	out := make(map[string]aggregate.Final, len(finals))
	for _, f := range finals {
		out[strconv.FormatInt(f.WindowStart, 10)+" "+f.IP.String()] = f
	}
	return out, len(sources)
}
