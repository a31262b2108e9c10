// Package flowgen makes synthetic VPC flow-log lines in the default (version 2) format, deterministically from a
// seed: the shared corpus of tests, benchmarks and the demo. Besides ordinary traffic it makes the patterns a
// security dashboard exists to show: a port scan, a fan-out scanner and bursts of rejected connections.
package flowgen

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Config shapes the traffic. Start from DefaultConfig; a zero count, span or account takes its default, while the
// fractions are taken as given (zero means none). Start has no default: every corpus starts where its test says.
type Config struct {
	Seed       uint64
	Account    string        // 12-digit AWS account id
	Start      time.Time     // flows start in [Start, Start+Span)
	Span       time.Duration // spread of flow start times
	Interfaces int           // ENIs, one log stream each
	Hosts      int           // distinct private IPv4 hosts in the VPC
	External   int           // distinct public peers
	IPv6       float64       // fraction of flows over IPv6
	NoData     float64       // fraction of NODATA lines
	SkipData   float64       // fraction of SKIPDATA lines
	Reject     float64       // fraction of REJECT flows
}

// FixedStart is a start for corpora whose code under test reads no clock (parsers, encoders, aggregation): their
// documents and goldens stay byte for byte the same on any day. Code that reads a clock (the finalizer, the
// consumer, the Lambda, anything behind moto's CloudWatch Logs, which drops events older than 14 days) gets a
// corpus whose start is relative to that clock instead.
var FixedStart = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// DefaultConfig is a VPC of 200 hosts on 20 interfaces talking to 500 outside peers over one hour from start.
func DefaultConfig(start time.Time) Config {
	return Config{
		Seed:       1,
		Account:    "123456789012",
		Start:      start,
		Span:       time.Hour,
		Interfaces: 20,
		Hosts:      200,
		External:   500,
		IPv6:       0.05,
		NoData:     0.01,
		SkipData:   0.002,
		Reject:     0.15,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig(c.Start)
	if c.Account == "" {
		c.Account = d.Account
	}
	if c.Span <= 0 {
		c.Span = d.Span
	}
	if c.Interfaces <= 0 {
		c.Interfaces = d.Interfaces
	}
	if c.Hosts <= 0 {
		c.Hosts = d.Hosts
	}
	if c.External <= 0 {
		c.External = d.External
	}
	return c
}

// An Event is one CloudWatch Logs event carrying one flow-log line.
type Event struct {
	ID        string // 56 decimal digits, as CloudWatch Logs assigns them
	Timestamp int64  // milliseconds since the epoch: the flow's end, when the log was captured
	Message   string
}

// A Batch is what one subscription delivery carries: events of one log stream (one interface).
type Batch struct {
	LogStream string
	Events    []Event
}

// A Generator makes lines; it is not safe for concurrent use.
type Generator struct {
	cfg   Config
	rng   *rand.Rand
	seq   uint64
	hosts []netip.Addr
	ext   []netip.Addr
	v6    []netip.Addr
	enis  []string
}

// New returns a generator for cfg; the same cfg always yields the same lines.
func New(cfg Config) *Generator {
	cfg = cfg.withDefaults()
	g := &Generator{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x6b696e666c6f77))}
	for i := range cfg.Hosts {
		g.hosts = append(g.hosts, netip.AddrFrom4([4]byte{10, 0, byte(i / 250), byte(1 + i%250)}))
		g.v6 = append(g.v6, netip.MustParseAddr(fmt.Sprintf("2600:1f18:4a3:6900:%x::%x", i/250, 1+i%250)))
	}
	for i := range cfg.External {
		// 198.18.0.0/15 is reserved for benchmarking: realistic-looking, never a real host.
		g.ext = append(g.ext, netip.AddrFrom4([4]byte{198, 18 + byte(i/65000), byte(i / 250 % 256), byte(1 + i%250)}))
	}
	for i := range cfg.Interfaces {
		g.enis = append(g.enis, fmt.Sprintf("eni-%017x", uint64(0x0a1b2c3d4e5f6)+uint64(i)))
	}
	return g
}

// Interfaces returns the ENI ids, one log stream each ("<eni>-all", as AWS names them).
func (g *Generator) Interfaces() []string { return g.enis }

// LogStream returns the log stream name AWS uses for an interface.
func LogStream(eni string) string { return eni + "-all" }

var wellKnownPorts = []int{443, 443, 443, 80, 53, 22, 3306, 5432, 6379, 8080, 9200, 123}

// Line returns one ordinary flow line: mostly private hosts talking to each other and to the outside.
func (g *Generator) Line() string {
	eni := g.enis[g.rng.IntN(len(g.enis))]
	r := g.rng.Float64()
	switch {
	case r < g.cfg.NoData:
		return g.statusLine(eni, "NODATA")
	case r < g.cfg.NoData+g.cfg.SkipData:
		return g.statusLine(eni, "SKIPDATA")
	}
	var src, dst netip.Addr
	if g.rng.Float64() < g.cfg.IPv6 {
		src, dst = g.pick(g.v6), g.pick(g.v6)
	} else {
		src = g.pick(g.hosts)
		if g.rng.IntN(3) == 0 {
			dst = g.pick(g.ext)
		} else {
			dst = g.pick(g.hosts)
		}
		if g.rng.IntN(2) == 0 {
			src, dst = dst, src
		}
	}
	action := "ACCEPT"
	if g.rng.Float64() < g.cfg.Reject {
		action = "REJECT"
	}
	proto := 6
	switch g.rng.IntN(10) {
	case 0:
		proto = 17
	case 1:
		proto = 1
	}
	dport := wellKnownPorts[g.rng.IntN(len(wellKnownPorts))]
	sport := 1024 + g.rng.IntN(64511)
	if proto == 1 {
		sport, dport = 0, 0
	}
	packets := 1 + g.rng.IntN(2000)
	bytes := packets * (40 + g.rng.IntN(1400))
	return g.flowLine(eni, src, dst, sport, dport, proto, packets, bytes, action)
}

// PortScan returns one REJECT flow per port from scanner to target: a vertical port scan.
func (g *Generator) PortScan(scanner, target netip.Addr, ports []int) []string {
	eni := g.enis[0]
	lines := make([]string, 0, len(ports))
	for _, p := range ports {
		lines = append(lines, g.flowLine(eni, scanner, target, 40000+g.rng.IntN(20000), p, 6, 1, 44, "REJECT"))
	}
	return lines
}

// FanOut returns flows from src to n distinct hosts on one port: a horizontal scan (or a worm).
func (g *Generator) FanOut(src netip.Addr, n, port int) []string {
	lines := make([]string, 0, n)
	for i := range n {
		dst := netip.AddrFrom4([4]byte{10, 1, byte(i / 250), byte(1 + i%250)})
		action := "ACCEPT"
		if g.rng.IntN(4) == 0 {
			action = "REJECT"
		}
		lines = append(lines, g.flowLine(g.enis[i%len(g.enis)], src, dst, 40000+g.rng.IntN(20000), port, 6, 2, 120, action))
	}
	return lines
}

// RejectedBurst returns n rejected flows from outside peers to one host's port, as a blocked brute force looks.
func (g *Generator) RejectedBurst(target netip.Addr, port, n int) []string {
	lines := make([]string, 0, n)
	for range n {
		lines = append(lines, g.flowLine(g.enis[1%len(g.enis)], g.pick(g.ext), target, 1024+g.rng.IntN(64511), port, 6, 3, 180, "REJECT"))
	}
	return lines
}

// Batches returns count deliveries of between minEvents and maxEvents ordinary lines each.
func (g *Generator) Batches(count, minEvents, maxEvents int) []Batch {
	out := make([]Batch, 0, count)
	for range count {
		n := minEvents
		if maxEvents > minEvents {
			n += g.rng.IntN(maxEvents - minEvents + 1)
		}
		lines := make([]string, n)
		for i := range lines {
			lines[i] = g.Line()
		}
		out = append(out, g.Batch(g.enis[g.rng.IntN(len(g.enis))], lines))
	}
	return out
}

// Timeline returns count deliveries like Batches, but in event-time order, as flow logs arrive from a VPC: the
// span is cut into count equal slots and delivery i carries flows starting in slot i or up to lag before it (a
// capture window's aggregation and delivery delay), never before the span. A reader that keeps up with it sees no
// flow older than lag behind the newest it has seen.
func (g *Generator) Timeline(count, minEvents, maxEvents int, lag time.Duration) []Batch {
	start, span := g.cfg.Start, g.cfg.Span
	defer func() { g.cfg.Start, g.cfg.Span = start, span }()
	slot := span / time.Duration(count)
	out := make([]Batch, 0, count)
	for i := range count {
		from := start.Add(max(0, time.Duration(i)*slot-lag))
		g.cfg.Start, g.cfg.Span = from, start.Add(time.Duration(i+1)*slot).Sub(from)
		out = append(out, g.Batches(1, minEvents, maxEvents)...)
	}
	return out
}

// Batch wraps lines as the events of one delivery from the interface's log stream.
func (g *Generator) Batch(eni string, lines []string) Batch {
	b := Batch{LogStream: LogStream(eni), Events: make([]Event, len(lines))}
	for i, l := range lines {
		ts := endMillis(l)
		if ts == 0 {
			// A line without an end time (a malformed one, on purpose): CloudWatch Logs still stamps it, and
			// refuses events more than 14 days old, so stamp it within the span.
			ts = g.cfg.Start.UnixMilli()
		}
		b.Events[i] = Event{ID: g.nextID(), Timestamp: ts, Message: l}
	}
	return b
}

func (g *Generator) pick(addrs []netip.Addr) netip.Addr { return addrs[g.rng.IntN(len(addrs))] }

// window returns a flow's start and end in seconds: a capture window of up to 60 s inside the span.
func (g *Generator) window() (int64, int64) {
	start := g.cfg.Start.Unix() + g.rng.Int64N(int64(g.cfg.Span/time.Second))
	return start, start + 1 + g.rng.Int64N(59)
}

func (g *Generator) flowLine(eni string, src, dst netip.Addr, sport, dport, proto, packets, bytes int, action string) string {
	start, end := g.window()
	return strings.Join([]string{"2", g.cfg.Account, eni, src.String(), dst.String(), strconv.Itoa(sport),
		strconv.Itoa(dport), strconv.Itoa(proto), strconv.Itoa(packets), strconv.Itoa(bytes),
		strconv.FormatInt(start, 10), strconv.FormatInt(end, 10), action, "OK"}, " ")
}

func (g *Generator) statusLine(eni, status string) string {
	start, end := g.window()
	return fmt.Sprintf("2 %s %s - - - - - - - %d %d - %s", g.cfg.Account, eni, start, end, status)
}

// nextID returns a CloudWatch Logs-shaped event id: 56 decimal digits, unique within the generator.
func (g *Generator) nextID() string {
	g.seq++
	return fmt.Sprintf("%020d%018d%018d", g.cfg.Seed, g.seq, g.rng.Uint64()%1_000_000_000_000_000_000)
}

// endMillis is the event timestamp CloudWatch Logs would give a line: its end time (field 12), in milliseconds.
func endMillis(line string) int64 {
	f := strings.Fields(line)
	if len(f) < 12 {
		return 0
	}
	end, _ := strconv.ParseInt(f[11], 10, 64)
	return end * 1000
}
