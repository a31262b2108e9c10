package alerts

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kinflow/kinflow/internal/detect"
	"github.com/kinflow/kinflow/internal/schema"
	"github.com/kinflow/kinflow/internal/testing/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// addrs compares netip.Addr by ==, as the package does.
var addrs = cmpopts.EquateComparable(netip.Addr{})

// Windows of the fixtures: ten minutes each, the first at 2023-11-14T22:20:00Z.
const (
	windowSize = 600
	t0         = 1700000400
)

func win(i int) detect.Window {
	start := int64(t0 + i*windowSize)
	return detect.Window{Start: start, End: start + windowSize}
}

// sig is a signal of rule r on ip in window i, of the episode begun in window episode, with the evidence a rule of
// its kind would give (samples; a baseline for the rules that use one).
func sig(tb testing.TB, r detect.Rule, ip string, i, episode int, score float64, status Status) Signal {
	tb.Helper()
	addr := netip.MustParseAddr(ip)
	var peers []netip.Addr
	if addr.Is4() {
		peers = []netip.Addr{netip.MustParseAddr("10.0.2.1"), netip.MustParseAddr("10.0.2.9"), addr}
	} else {
		peers = []netip.Addr{netip.MustParseAddr("2001:db8:2::1"), netip.MustParseAddr("2001:db8:2::9")}
	}
	s := Signal{
		Alert: detect.Alert{Rule: r, IP: addr, Window: win(i), Score: score,
			Severity: detect.SeverityOf(score), Reason: r.String() + " on " + ip + " in window " + strconv.Itoa(i),
			Evidence: detect.Evidence{Peers: 254, PeersEstimated: i%2 == 1, Ports: 3, ServicePorts: 2, FlowsSent: 300,
				FlowsReceived: 20, Rejected: 230, BytesSent: 1 << 33, PeerSample: peers, PortSample: []uint16{22, 443, 50000}}},
		Status: status, Revision: int64(1 + i%3), Episode: detect.EpisodeID(r, addr, win(episode).Start),
		EpisodeStart: win(episode).Start,
	}
	if r == detect.RejectStorm || r == detect.UnusualEgress {
		s.Evidence.Baseline = &detect.Baseline{Windows: 36, RejectedMean: 0.5, RejectedStd: 0.25,
			BytesSentMean: 1.5e6, BytesSentStd: 2.75e5}
	}
	return s
}

func signalJSON(tb testing.TB, s Signal) []byte {
	tb.Helper()
	src, err := SignalJSON(&s)
	if err != nil {
		tb.Fatalf("SignalJSON: %v", err)
	}
	return src
}

func TestSignalRoundTrip(t *testing.T) {
	bare := sig(t, detect.HorizontalScan, "198.51.100.7", 0, 0, 1.25, Active)
	bare.Evidence = detect.Evidence{Peers: 40}
	tests := map[string]Signal{
		"horizontal scan, IPv4, raised":             sig(t, detect.HorizontalScan, "198.51.100.7", 0, 0, 2.54, Active),
		"vertical scan, IPv6, continued":            sig(t, detect.VerticalScan, "2001:db8::7", 3, 1, 11, Active),
		"reject storm, IPv4, baseline, withdrawn":   sig(t, detect.RejectStorm, "10.0.1.77", 2, 2, 4.5, Withdrawn),
		"unusual egress, IPv6, baseline, continued": sig(t, detect.UnusualEgress, "2001:db8::1:5", 5, 2, 1.0000001, Active),
		"withdrawn continuation, IPv4-mapped IPv6":  sig(t, detect.HorizontalScan, "::ffff:10.0.0.9", 4, 1, 3, Withdrawn),
		"no samples, no baseline":                   bare,
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			src := signalJSON(t, want)
			got, err := DecodeSignal(src)
			if err != nil {
				t.Fatalf("DecodeSignal(%s): %v", src, err)
			}
			if diff := cmp.Diff(want, got, addrs); diff != "" {
				t.Errorf("DecodeSignal(SignalJSON(s)) differs from s (-want +got):\n%s", diff)
			}
			if got.Continued() != want.Continued() {
				t.Errorf("Continued() = %v, want %v", got.Continued(), want.Continued())
			}
		})
	}
}

// TestRegistry walks the documents of both kinds: every field they write is a row of schema.Alerts with a value of
// the row's type, and every row is written by one of them.
func TestRegistry(t *testing.T) {
	family := schema.Alerts()
	egress := sig(t, detect.UnusualEgress, "2001:db8::1:5", 2, 0, 4.5, Active) // a technique, a baseline, samples
	storm := sig(t, detect.RejectStorm, "10.0.1.77", 1, 1, 12, Active)         // no technique
	storm.Evidence.PeerSample, storm.Evidence.PortSample, storm.Evidence.Baseline = nil, nil, nil
	episode, err := Summarize([]Signal{sig(t, detect.HorizontalScan, "198.51.100.7", 0, 0, 2, Active),
		sig(t, detect.HorizontalScan, "198.51.100.7", 1, 0, 3.5, Active)})
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string][]byte{
		"signal, unusual egress": signalJSON(t, egress),
		"signal, reject storm":   signalJSON(t, storm),
	}
	if docs["episode"], err = EpisodeJSON(&episode); err != nil {
		t.Fatal(err)
	}
	written := map[string]bool{}
	for name, src := range docs {
		t.Run(name, func(t *testing.T) {
			dec := json.NewDecoder(bytes.NewReader(src))
			dec.UseNumber()
			var doc map[string]any
			if err := dec.Decode(&doc); err != nil {
				t.Fatal(err)
			}
			for path, v := range flatten("", doc) {
				written[path] = true
				row, ok := family.Lookup(path)
				if !ok {
					t.Errorf("%s = %v: no row of schema.Alerts", path, v)
					continue
				}
				if err := checkType(row, v); err != nil {
					t.Errorf("%s: %v", path, err)
				}
			}
		})
	}
	for _, name := range family.Names() {
		if !written[name] {
			t.Errorf("row %s: no document writes it", name)
		}
	}
}

// flatten gives the dotted paths of doc's leaves; an array is one leaf.
func flatten(prefix string, doc map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range doc {
		if obj, ok := v.(map[string]any); ok {
			for p, leaf := range flatten(prefix+k+".", obj) {
				out[p] = leaf
			}
			continue
		}
		out[prefix+k] = v
	}
	return out
}

func checkType(row schema.Field, v any) error {
	arr, isArray := v.([]any)
	if isArray != row.Array {
		return fmt.Errorf("array %v, want %v: %v", isArray, row.Array, v)
	}
	if !isArray {
		return checkScalar(row.Type, v)
	}
	if len(arr) == 0 {
		return fmt.Errorf("empty array (the encoder leaves an empty array out)")
	}
	for i, e := range arr {
		if err := checkScalar(row.Type, e); err != nil {
			return fmt.Errorf("[%d]: %w", i, err)
		}
	}
	return nil
}

func checkScalar(typ schema.Type, v any) error {
	switch typ {
	case schema.Keyword:
		if _, ok := v.(string); ok {
			return nil
		}
	case schema.Boolean:
		if _, ok := v.(bool); ok {
			return nil
		}
	case schema.IP:
		if s, ok := v.(string); ok {
			_, err := netip.ParseAddr(s)
			return err
		}
	case schema.Date:
		if s, ok := v.(string); ok {
			if _, err := time.Parse(time.RFC3339, s); err != nil {
				return err
			}
			if !strings.HasSuffix(s, "Z") {
				return fmt.Errorf("%q is not in UTC", s)
			}
			return nil
		}
	case schema.Long:
		if n, ok := v.(json.Number); ok {
			if _, err := strconv.ParseInt(n.String(), 10, 64); err != nil {
				_, err = strconv.ParseUint(n.String(), 10, 64)
				return err
			}
			return nil
		}
	case schema.Double:
		if n, ok := v.(json.Number); ok {
			_, err := n.Float64()
			return err
		}
	}
	return fmt.Errorf("%T %v is not a %s", v, v, typ)
}

func TestSummarize(t *testing.T) {
	const ip = "198.51.100.7"
	hs := func(i int, score float64, status Status) Signal {
		return sig(t, detect.HorizontalScan, ip, i, 0, score, status)
	}
	one := hs(0, 2.5, Active)
	a0, a1, a2 := hs(0, 1.5, Active), hs(1, 12, Active), hs(2, 4, Active)
	w0, w1, w2 := hs(0, 1.5, Withdrawn), hs(1, 12, Withdrawn), hs(2, 4, Withdrawn)
	base := func(latest Signal) Episode {
		return Episode{ID: latest.Episode, Rule: detect.HorizontalScan, IP: latest.IP, EpisodeStart: t0, Latest: latest}
	}
	with := func(e Episode, f func(*Episode)) Episode { f(&e); return e }
	otherEpisode := hs(1, 2, Active)
	otherEpisode.Episode, otherEpisode.EpisodeStart = detect.EpisodeID(detect.HorizontalScan, one.IP, win(1).Start), win(1).Start
	otherIP := sig(t, detect.HorizontalScan, "198.51.100.8", 1, 0, 2, Active)
	otherIP.Episode = one.Episode
	otherRule := sig(t, detect.VerticalScan, ip, 1, 0, 2, Active)
	otherRule.Episode = one.Episode

	tests := map[string]struct {
		signals []Signal
		want    Episode
		err     error // errors.Is; errAny for an error of any other kind
	}{
		"one active signal": {signals: []Signal{one}, want: with(base(one), func(e *Episode) {
			e.Status, e.First, e.Last, e.Windows, e.MaxScore, e.Severity = Active, win(0), win(0), 1, 2.5, detect.SeverityMedium
		})},
		"three consecutive active": {signals: []Signal{a0, a1, a2}, want: with(base(a2), func(e *Episode) {
			e.Status, e.First, e.Last, e.Windows, e.MaxScore, e.Severity = Active, win(0), win(2), 3, 12, detect.SeverityCritical
		})},
		"withdrawn in the middle": {signals: []Signal{a0, w1, a2}, want: with(base(a2), func(e *Episode) {
			e.Status, e.First, e.Last, e.Windows, e.MaxScore, e.Severity = Active, win(0), win(2), 2, 4, detect.SeverityHigh
		})},
		"last withdrawn": {signals: []Signal{a0, a1, w2}, want: with(base(a1), func(e *Episode) {
			e.Status, e.First, e.Last, e.Windows, e.MaxScore, e.Severity = Active, win(0), win(1), 2, 12, detect.SeverityCritical
		})},
		"first withdrawn": {signals: []Signal{w0, a1, a2}, want: with(base(a2), func(e *Episode) {
			e.Status, e.First, e.Last, e.Windows, e.MaxScore, e.Severity = Active, win(1), win(2), 2, 12, detect.SeverityCritical
		})},
		"all withdrawn": {signals: []Signal{w0, w1, w2}, want: with(base(w2), func(e *Episode) {
			e.Status, e.First, e.Last, e.Windows, e.MaxScore, e.Severity = Withdrawn, win(0), win(2), 0, 4, detect.SeverityHigh
		})},
		"shuffled": {signals: []Signal{a2, w1, a0}, want: with(base(a2), func(e *Episode) {
			e.Status, e.First, e.Last, e.Windows, e.MaxScore, e.Severity = Active, win(0), win(2), 2, 4, detect.SeverityHigh
		})},
		"another episode": {signals: []Signal{a0, otherEpisode}, err: errAny},
		"another IP":      {signals: []Signal{a0, otherIP}, err: errAny},
		"another rule":    {signals: []Signal{otherRule, a0}, err: errAny},
		"no signals":      {signals: nil, err: ErrNoSignals},
		"empty, not nil":  {signals: []Signal{}, err: ErrNoSignals},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			input := slices.Clone(tt.signals)
			for i, order := range orders(tt.signals) {
				got, err := Summarize(order)
				switch {
				case tt.err == errAny && (err == nil || errors.Is(err, ErrNoSignals)):
					t.Fatalf("order %d: Summarize = %v, want an error naming the stray signal", i, err)
				case tt.err != nil && tt.err != errAny && !errors.Is(err, tt.err):
					t.Fatalf("order %d: Summarize = %v, want %v", i, err, tt.err)
				case tt.err == nil && err != nil:
					t.Fatalf("order %d: Summarize: %v", i, err)
				}
				if tt.err != nil {
					continue
				}
				if diff := cmp.Diff(tt.want, got, addrs); diff != "" {
					t.Errorf("order %d %v: episode differs (-want +got):\n%s", i, starts(order), diff)
				}
			}
			if diff := cmp.Diff(input, tt.signals, addrs); diff != "" {
				t.Errorf("Summarize changed its input:\n%s", diff)
			}
		})
	}
}

var errAny = errors.New("any error but ErrNoSignals")

// orders gives s and its other orders: all of them up to 5 signals, else a few shuffles.
func orders(s []Signal) [][]Signal {
	out := [][]Signal{slices.Clone(s)}
	if len(s) <= 5 {
		var perm func(k int)
		cur := slices.Clone(s)
		perm = func(k int) {
			if k == len(cur) {
				out = append(out, slices.Clone(cur))
				return
			}
			for i := k; i < len(cur); i++ {
				cur[k], cur[i] = cur[i], cur[k]
				perm(k + 1)
				cur[k], cur[i] = cur[i], cur[k]
			}
		}
		perm(0)
		return out
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		c := slices.Clone(s)
		r.Shuffle(len(c), func(i, j int) { c[i], c[j] = c[j], c[i] })
		out = append(out, c)
	}
	return out
}

func starts(s []Signal) []int64 {
	out := make([]int64, len(s))
	for i := range s {
		out[i] = (s[i].Window.Start - t0) / windowSize
	}
	return out
}

func TestEpisodeJSON(t *testing.T) {
	const ip = "2001:db8::7"
	a0, w1, a2 := sig(t, detect.VerticalScan, ip, 0, 0, 1.5, Active), sig(t, detect.VerticalScan, ip, 1, 0, 12, Withdrawn),
		sig(t, detect.VerticalScan, ip, 2, 0, 4, Active)
	tests := map[string]struct {
		signals []Signal
		want    map[string]any // flattened fields the episode's document must have
	}{
		"one window": {[]Signal{a0}, map[string]any{"event.kind": KindAlert, "alert.windows": 1.0, "alert.continued": false,
			"alert.status": "active", "window.start": "2023-11-14T22:20:00Z", "window.end": "2023-11-14T22:30:00Z",
			"alert.score": 1.5, "event.severity": float64(detect.SeverityLow), "alert.episode": a0.Episode}},
		"withdrawn between two": {[]Signal{a2, w1, a0}, map[string]any{"alert.windows": 2.0, "alert.continued": true,
			"window.start": "2023-11-14T22:20:00Z", "window.end": "2023-11-14T22:50:00Z", "@timestamp": "2023-11-14T22:50:00Z",
			"alert.score": 4.0, "event.severity": float64(detect.SeverityHigh), "alert.revision": float64(a2.Revision),
			"event.reason": a2.Reason, "alert.episode_start": "2023-11-14T22:20:00Z"}},
		"all withdrawn": {[]Signal{{Alert: a0.Alert, Status: Withdrawn, Episode: a0.Episode, EpisodeStart: a0.EpisodeStart}, w1},
			map[string]any{"alert.status": "withdrawn", "alert.windows": 0.0, "alert.continued": false, "alert.score": 12.0,
				"event.reason": w1.Reason, "window.end": "2023-11-14T22:40:00Z"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			e, err := Summarize(tt.signals)
			if err != nil {
				t.Fatal(err)
			}
			src, err := EpisodeJSON(&e)
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := json.Unmarshal(src, &doc); err != nil {
				t.Fatal(err)
			}
			fields := flatten("", doc)
			for path, want := range tt.want {
				if diff := cmp.Diff(want, fields[path]); diff != "" {
					t.Errorf("%s (-want +got):\n%s", path, diff)
				}
			}
			if _, err := DecodeSignal(src); !errors.Is(err, ErrDecode) {
				t.Errorf("DecodeSignal(episode) = %v, want ErrDecode (event.kind alert)", err)
			}
		})
	}
}

func TestDecodeSignalErrors(t *testing.T) {
	valid := signalJSON(t, sig(t, detect.UnusualEgress, "198.51.100.7", 1, 0, 3, Active))
	tests := map[string]struct {
		set  map[string]any // dotted path -> value, over the valid document
		name []string       // what the error must name
	}{
		"episode kind":     {map[string]any{"event.kind": KindAlert}, []string{"event.kind", `"alert"`}},
		"no kind":          {map[string]any{"event.kind": nil}, []string{"event.kind"}},
		"unknown rule":     {map[string]any{"rule.name": "port_knock"}, []string{"rule.name", "port_knock"}},
		"bad source IP":    {map[string]any{"source.ip": "198.51.100.300"}, []string{"source.ip"}},
		"bad window start": {map[string]any{"window.start": "2023-11-14 22:20:00"}, []string{"window.start"}},
		"bad window end":   {map[string]any{"window.end": "yesterday"}, []string{"window.end", "yesterday"}},
		"bad episode start": {map[string]any{"alert.episode_start": "2023-11-14T22:20:00"},
			[]string{"alert.episode_start"}},
		"date out of range": {map[string]any{"window.end": "9999-12-31T23:30:00-01:00"}, []string{"window.end"}},
		"two bad dates": {map[string]any{"window.start": "x", "alert.episode_start": "y"},
			[]string{"window.start", "alert.episode_start"}},
		"bad status":      {map[string]any{"alert.status": "resolved"}, []string{"alert.status", "resolved"}},
		"no status":       {map[string]any{"alert.status": nil}, []string{"alert.status"}},
		"bad peer sample": {map[string]any{"alert.evidence.peer_sample": []string{"10.0.0.1", "nope"}}, []string{"alert.evidence.peer_sample", "nope"}},
		"wrong type":      {map[string]any{"alert.evidence.peers": "many"}, []string{"peers"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			src := edit(t, valid, tt.set)
			s, err := DecodeSignal(src)
			if !errors.Is(err, ErrDecode) {
				t.Fatalf("DecodeSignal(%s) = %+v, %v; want an error wrapping ErrDecode", src, s, err)
			}
			for _, want := range tt.name {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %s", err, want)
				}
			}
			if diff := cmp.Diff(Signal{}, s, addrs); diff != "" {
				t.Errorf("DecodeSignal returned a signal with its error:\n%s", diff)
			}
		})
	}
	for name, src := range map[string]string{"not JSON": "{", "array": "[]", "empty object": "{}", "null": "null"} {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeSignal([]byte(src)); !errors.Is(err, ErrDecode) {
				t.Errorf("DecodeSignal(%s) = %v, want ErrDecode", src, err)
			}
		})
	}
}

// edit sets the dotted paths of set in the JSON document src (nil deletes).
func edit(tb testing.TB, src []byte, set map[string]any) []byte {
	tb.Helper()
	var doc map[string]any
	if err := json.Unmarshal(src, &doc); err != nil {
		tb.Fatal(err)
	}
	for path, v := range set {
		m := doc
		keys := strings.Split(path, ".")
		for _, k := range keys[:len(keys)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				tb.Fatalf("edit: %s: no object %s", path, k)
			}
			m = next
		}
		if v == nil {
			delete(m, keys[len(keys)-1])
		} else {
			m[keys[len(keys)-1]] = v
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func TestChangeOf(t *testing.T) {
	tests := map[string]struct {
		s    Signal
		want Change
	}{
		"raised":                 {sig(t, detect.HorizontalScan, "10.0.0.1", 0, 0, 2, Active), ChangeRaised},
		"continued":              {sig(t, detect.HorizontalScan, "10.0.0.1", 2, 0, 2, Active), ChangeContinued},
		"withdrawn":              {sig(t, detect.HorizontalScan, "10.0.0.1", 0, 0, 2, Withdrawn), ChangeWithdrawn},
		"withdrawn continuation": {sig(t, detect.HorizontalScan, "10.0.0.1", 2, 0, 2, Withdrawn), ChangeWithdrawn},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := ChangeOf(&tt.s); got != tt.want {
				t.Errorf("ChangeOf = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWebhookKey(t *testing.T) {
	if got, want := WebhookKey(1700000400, 2), "kinflow-alerts-1700000400-r2"; got != want {
		t.Errorf("WebhookKey = %q, want %q", got, want)
	}
}

// goldenJSON compares got, indented, with testdata/name (rewritten under -update).
func goldenJSON(tb testing.TB, name string, got []byte) {
	tb.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, got, "", "  "); err != nil {
		tb.Fatalf("%s: not JSON: %v\n%s", name, err, got)
	}
	buf.WriteByte('\n')
	golden.File(tb, *update, filepath.Join("testdata", name), buf.Bytes())
}
