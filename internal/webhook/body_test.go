package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kinflow/kinflow/aggregate"
	"github.com/kinflow/kinflow/internal/testing/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func newTestClient(tb testing.TB, cfg Config, opts Options) *Client {
	tb.Helper()
	c, err := New(cfg, opts)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return c
}

func configFor(url string, f Format) Config {
	cfg := DefaultConfig()
	cfg.URL, cfg.Format = url, f
	return cfg
}

func TestGoldenBodies(t *testing.T) {
	for _, format := range []Format{FormatCompat, FormatRich} {
		t.Run(string(format), func(t *testing.T) {
			c := newTestClient(t, configFor("https://hooks.example/connection_sets/{bucket_time}", format), Options{})
			_, body, _, err := c.Request(fixtureChunk(t))
			if err != nil {
				t.Fatalf("Request: %v", err)
			}
			if !json.Valid(body) {
				t.Fatalf("body is not JSON: %s", body)
			}
			golden.File(t, *update, filepath.Join("testdata", string(format)+".golden.json"), append(body, '\n'))
		})
	}
}

func TestCompatBodyExact(t *testing.T) {
	c := newTestClient(t, configFor("http://h/x", FormatCompat), Options{})
	tests := []struct {
		name string
		sets []aggregate.Final
		want string
	}{
		{"two IPs", []aggregate.Final{
			final(t, "10.0.0.1", nil, "1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4", "1.1.1.5", "1.1.1.6", "1.1.1.7", "1.1.1.8",
				"1.1.1.9", "1.1.1.10", "1.1.1.11", "1.1.1.12"),
			final(t, "10.0.0.2", nil, "1.1.1.1", "1.1.1.2", "1.1.1.3"),
		}, `{"10.0.0.1":12,"10.0.0.2":3}`},
		{"estimated and IPv6", []aggregate.Final{estimated("10.0.7.7", 15234), final(t, "2001:db8::1", nil, "2001:db8::2")},
			`{"10.0.7.7":15234,"2001:db8::1":1}`},
		{"empty chunk", nil, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, body, _, err := c.Request(&Chunk{WindowStart: winStart, WindowEnd: winEnd, Revision: 1, Sets: tt.sets})
			if err != nil {
				t.Fatalf("Request: %v", err)
			}
			if string(body) != tt.want {
				t.Errorf("body %s, want %s", body, tt.want)
			}
		})
	}
}

// The reference shape of the rich body for encoding/json; BenchmarkBody encodes it too.
type (
	refBody struct {
		Window struct {
			Start time.Time `json:"start"`
			End   time.Time `json:"end"`
		} `json:"window"`
		Revision int64 `json:"revision"`
		Chunk    struct {
			Index int  `json:"index"`
			Last  bool `json:"last"`
		} `json:"chunk"`
		Sets []refSet `json:"connection_sets"`
		Top  []refTop `json:"top,omitempty"`
	}
	refSet struct {
		IP             netip.Addr   `json:"ip"`
		Peers          []netip.Addr `json:"peers,omitzero"` // nil when estimated; [] stays
		PeersCount     uint64       `json:"peers_count"`
		PeersEstimated bool         `json:"peers_estimated"`
		DstPorts       []uint16     `json:"dst_ports"`
		DstPortsCount  int          `json:"dst_ports_count"`
		Flows          struct {
			Sent     uint64 `json:"sent"`
			Received uint64 `json:"received"`
			Rejected uint64 `json:"rejected"`
			Late     uint64 `json:"late"`
		} `json:"flows"`
		Bytes   refPair   `json:"bytes"`
		Packets refPair   `json:"packets"`
		First   time.Time `json:"first_seen"`
		Last    time.Time `json:"last_seen"`
	}
	refPair struct {
		Sent     uint64 `json:"sent"`
		Received uint64 `json:"received"`
	}
	refTop struct {
		IP         netip.Addr `json:"ip"`
		PeersCount uint64     `json:"peers_count"`
	}
)

// referenceRich is the rich body through encoding/json: the struct copy is part of its cost.
func referenceRich(ch *Chunk) ([]byte, error) {
	var b refBody
	b.Window.Start, b.Window.End = time.Unix(ch.WindowStart, 0).UTC(), time.Unix(ch.WindowEnd, 0).UTC()
	b.Revision, b.Chunk.Index, b.Chunk.Last = ch.Revision, ch.Index, ch.Last
	b.Sets = make([]refSet, len(ch.Sets))
	for i := range ch.Sets {
		f, s := &ch.Sets[i], &b.Sets[i]
		s.IP, s.PeersCount, s.PeersEstimated = f.IP, f.PeersCount, f.PeersEstimated
		if !f.PeersEstimated {
			s.Peers = f.Peers
			if s.Peers == nil {
				s.Peers = []netip.Addr{}
			}
		}
		s.DstPorts, s.DstPortsCount = f.DstPorts, len(f.DstPorts)
		if s.DstPorts == nil {
			s.DstPorts = []uint16{}
		}
		s.Flows.Sent, s.Flows.Received, s.Flows.Rejected, s.Flows.Late = f.FlowsSent, f.FlowsReceived, f.FlowsRejected, f.FlowsLate
		s.Bytes = refPair{f.BytesSent, f.BytesReceived}
		s.Packets = refPair{f.PacketsSent, f.PacketsReceived}
		s.First, s.Last = time.Unix(f.FirstSeen, 0).UTC(), time.Unix(f.LastSeen, 0).UTC()
	}
	for i := range ch.Top {
		b.Top = append(b.Top, refTop{ch.Top[i].IP, ch.Top[i].PeersCount})
	}
	return json.Marshal(&b)
}

// The hand-written encoder writes what encoding/json writes for the documented shape, byte for byte.
func TestRichBodyMatchesEncodingJSON(t *testing.T) {
	c := newTestClient(t, configFor("http://h/x", FormatRich), Options{})
	noTop := fixtureChunk(t)
	noTop.Top, noTop.Last = nil, false
	emptyPeers := final(t, "10.9.9.9", nil)
	for name, ch := range map[string]*Chunk{
		"fixture":     fixtureChunk(t),
		"without top": noTop,
		"empty peer list": {WindowStart: winStart, WindowEnd: winEnd, Revision: 1,
			Sets: []aggregate.Final{emptyPeers}},
		"no sets": {WindowStart: winStart, WindowEnd: winEnd, Revision: 1},
		"bench":   benchChunk(t, 50, 40),
	} {
		t.Run(name, func(t *testing.T) {
			_, got, _, err := c.Request(ch)
			if err != nil {
				t.Fatalf("Request: %v", err)
			}
			want, err := referenceRich(ch)
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
			if len(ch.Sets) == 0 { // encoding/json writes a nil slice as null; the body always has a list
				want = bytes.Replace(want, []byte(`"connection_sets":null`), []byte(`"connection_sets":[]`), 1)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("rich body differs from encoding/json (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequest(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{"placeholder in the path", "https://hooks.example/connection_sets/{bucket_time}",
			"https://hooks.example/connection_sets/1700000400"},
		{"placeholder in the query, twice", "http://h:8080/in?from={bucket_time}&b={bucket_time}",
			"http://h:8080/in?from=1700000400&b=1700000400"},
		{"no placeholder", "http://h/hook", "http://h/hook"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, configFor(tt.url, FormatCompat), Options{})
			ch := fixtureChunk(t)
			url, body, key, err := c.Request(ch)
			if err != nil {
				t.Fatalf("Request: %v", err)
			}
			if url != tt.want || key != "kinflow-1700000400-r2-c3" {
				t.Errorf("url %q key %q, want %q and kinflow-1700000400-r2-c3", url, key, tt.want)
			}
			_, again, _, _ := c.Request(ch)
			if !bytes.Equal(body, again) {
				t.Errorf("two bodies of one chunk differ:\n%s\n%s", body, again)
			}
		})
	}
}

func TestIdempotencyKey(t *testing.T) {
	for _, tt := range []struct {
		start, rev int64
		index      int
		want       string
	}{
		{1700000400, 2, 0, "kinflow-1700000400-r2-c0"},
		{1700000400, 1, 17, "kinflow-1700000400-r1-c17"},
		{0, 1, 0, "kinflow-0-r1-c0"},
	} {
		if got := IdempotencyKey(tt.start, tt.rev, tt.index); got != tt.want {
			t.Errorf("IdempotencyKey(%d, %d, %d) = %q, want %q", tt.start, tt.rev, tt.index, got, tt.want)
		}
	}
}

func TestRequestRejectsMalformedChunks(t *testing.T) {
	c := newTestClient(t, configFor("http://h/x", FormatCompat), Options{})
	ok := func() *Chunk { return fixtureChunk(t) }
	tests := []struct {
		name   string
		chunk  func() *Chunk
		detail string
	}{
		{"nil", func() *Chunk { return nil }, "nil"},
		{"empty window", func() *Chunk { ch := ok(); ch.WindowEnd = ch.WindowStart; return ch }, "want start < end"},
		{"revision 0", func() *Chunk { ch := ok(); ch.Revision = 0; return ch }, "revision 0"},
		{"negative index", func() *Chunk { ch := ok(); ch.Index = -1; return ch }, "index -1"},
		{"unordered", func() *Chunk { ch := ok(); ch.Sets[0], ch.Sets[1] = ch.Sets[1], ch.Sets[0]; return ch },
			"set 1 (10.0.0.1) does not follow 10.0.0.2"},
		{"duplicate", func() *Chunk { ch := ok(); ch.Sets[1] = ch.Sets[0]; return ch }, "set 1 (10.0.0.1) does not follow 10.0.0.1"},
		{"other window", func() *Chunk { ch := ok(); ch.Sets[2].WindowStart -= 600; return ch }, "set 2 (10.0.7.7) is of window"},
		{"no IP", func() *Chunk { ch := ok(); ch.Sets[0].IP = netip.Addr{}; return ch }, "set 0 has no IP"},
		{"top without IP", func() *Chunk { ch := ok(); ch.Top[1].IP = netip.Addr{}; return ch }, "top entry 1 has no IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, body, key, err := c.Request(tt.chunk())
			if !errors.Is(err, ErrInvalidChunk) || !strings.Contains(err.Error(), tt.detail) || body != nil || key != "" {
				t.Errorf("Request = %q, %q, %v; want ErrInvalidChunk saying %q", body, key, err, tt.detail)
			}
		})
	}
}
