package aggregate

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kinflow/kinflow/internal/testing/flowgen"
)

// parseLine turns a version 2 flow-log line into a Flow; ok is false for NODATA and SKIPDATA lines. It stands in
// for internal/format/vpcflow, which aggregate must not import.
func parseLine(tb testing.TB, line string) (f Flow, ok bool) {
	tb.Helper()
	fs := strings.Fields(line)
	if len(fs) != 14 {
		tb.Fatalf("not a version 2 line: %q", line)
	}
	if fs[13] != "OK" {
		return Flow{}, false
	}
	num := func(i int) uint64 {
		v, err := strconv.ParseUint(fs[i], 10, 64)
		if err != nil {
			tb.Fatalf("field %d of %q: %v", i+1, line, err)
		}
		return v
	}
	addr := func(i int) netip.Addr {
		a, err := netip.ParseAddr(fs[i])
		if err != nil {
			tb.Fatalf("field %d of %q: %v", i+1, line, err)
		}
		return a
	}
	return Flow{
		Start: int64(num(10)), End: int64(num(11)),
		Src: addr(3), Dst: addr(4), SrcPort: uint16(num(5)), DstPort: uint16(num(6)), Protocol: uint8(num(7)),
		Packets: num(8), Bytes: num(9), Rejected: fs[12] == "REJECT",
	}, true
}

func parseLines(tb testing.TB, lines []string) []Flow {
	tb.Helper()
	flows := make([]Flow, 0, len(lines))
	for _, l := range lines {
		if f, ok := parseLine(tb, l); ok {
			flows = append(flows, f)
		}
	}
	return flows
}

// ordinaryFlows is flowgen's default traffic: batches deliveries of 50 to 150 lines, NODATA and SKIPDATA left out.
func ordinaryFlows(tb testing.TB, seed uint64, batches int) []Flow {
	tb.Helper()
	cfg := flowgen.DefaultConfig(flowgen.FixedStart)
	cfg.Seed = seed
	var lines []string
	for _, b := range flowgen.New(cfg).Batches(batches, 50, 150) {
		for _, e := range b.Events {
			lines = append(lines, e.Message)
		}
	}
	return parseLines(tb, lines)
}

// attackFlows is flowgen's security patterns packed into the first 10 minutes of the default span, so that they
// land in one window: a fan-out to fanOut hosts (past the default cap of exact peers), a port scan and a blocked
// brute force.
func attackFlows(tb testing.TB, fanOut int) []Flow {
	tb.Helper()
	g := flowgen.New(flowgen.Config{Seed: 99, Start: flowgen.FixedStart, Span: 10 * time.Minute})
	scanner, target := netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("10.0.0.5")
	ports := make([]int, 0, 1024)
	for p := 1; p <= 1024; p++ {
		ports = append(ports, p)
	}
	lines := g.FanOut(netip.MustParseAddr("10.0.0.66"), fanOut, 445)
	lines = append(lines, g.PortScan(scanner, target, ports)...)
	lines = append(lines, g.RejectedBurst(target, 22, 500)...)
	return parseLines(tb, lines)
}

func mustAccumulator(tb testing.TB, cfg Config) *Accumulator {
	tb.Helper()
	a, err := NewAccumulator(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}
