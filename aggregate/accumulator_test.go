package aggregate

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var (
	ipA = netip.MustParseAddr("10.0.0.1")
	ipB = netip.MustParseAddr("10.0.0.2")
	ipC = netip.MustParseAddr("2600:1f18::c")
)

// t0 is a window start of the default 10-minute windows.
const t0 = 1795435200 // 2026-11-23T12:00:00Z

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Config)
		wants []string // substrings of the error, one per problem; none for a valid config
	}{
		{"default", func(*Config) {}, nil},
		{"zero", func(c *Config) { *c = Config{} }, []string{"Window 0s", "MaxExactPeers 0", "MaxOpenWindows 0", "MaxTrackedIPs 0", "MaxTrackedPeers 0"}},
		{"fractional window", func(c *Config) { c.Window = 1500 * time.Millisecond }, []string{"whole number of seconds from 1s to 24h0m0s"}},
		{"negative lateness", func(c *Config) { c.AllowedLateness = -time.Second }, []string{"AllowedLateness -1s"}},
		{"huge", func(c *Config) { c.Window, c.MaxOpenWindows = 48*time.Hour, 1e6 }, []string{"Window 48h0m0s", "MaxOpenWindows 1000000: want 1 to 1024"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			err := c.Validate()
			if len(tt.wants) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("Validate() = %v, want ErrConfig", err)
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %v, missing %q", err, w)
				}
			}
			if got := strings.Count(err.Error(), "\n") + 1; got != len(tt.wants) {
				t.Errorf("Validate() reported %d problems, want %d:\n%v", got, len(tt.wants), err)
			}
			if _, err := NewAccumulator(c); err == nil {
				t.Error("NewAccumulator accepted an invalid config")
			}
		})
	}
}

func TestAdd(t *testing.T) {
	tcp := func(src, dst netip.Addr, start int64, dport uint16, rejected bool) Flow {
		return Flow{Start: start, End: start + 30, Src: src, Dst: dst, SrcPort: 40000, DstPort: dport, Protocol: 6,
			Bytes: 1000, Packets: 10, Rejected: rejected}
	}
	win := func(ip netip.Addr, start int64) ConnSet {
		return ConnSet{WindowStart: start, WindowEnd: start + 600, IP: ip}
	}
	tests := []struct {
		name      string
		watermark int64
		flows     []Flow
		want      []ConnSet
	}{
		{"one flow makes two sets", 0, []Flow{tcp(ipA, ipB, t0+5, 443, false)}, []ConnSet{
			func() ConnSet {
				c := win(ipA, t0)
				c.Peers, c.PeersCount, c.DstPorts = []netip.Addr{ipB}, 1, []uint16{443}
				c.FlowsSent, c.BytesSent, c.PacketsSent, c.FirstSeen, c.LastSeen = 1, 1000, 10, t0+5, t0+35
				return c
			}(),
			func() ConnSet {
				c := win(ipB, t0)
				c.Peers, c.PeersCount = []netip.Addr{ipA}, 1
				c.FlowsReceived, c.BytesReceived, c.PacketsReceived, c.FirstSeen, c.LastSeen = 1, 1000, 10, t0+5, t0+35
				return c
			}(),
		}},
		{"rejected flows make peers and count at both ends", 0, []Flow{
			tcp(ipA, ipB, t0+1, 22, true), tcp(ipA, ipB, t0+2, 23, true), tcp(ipA, ipB, t0+3, 22, false),
		}, []ConnSet{
			func() ConnSet {
				c := win(ipA, t0)
				c.Peers, c.PeersCount, c.DstPorts = []netip.Addr{ipB}, 1, []uint16{22, 23}
				c.FlowsSent, c.FlowsRejected, c.BytesSent, c.PacketsSent, c.FirstSeen, c.LastSeen = 3, 2, 3000, 30, t0+1, t0+33
				return c
			}(),
			func() ConnSet {
				c := win(ipB, t0)
				c.Peers, c.PeersCount = []netip.Addr{ipA}, 1
				c.FlowsReceived, c.FlowsRejected, c.BytesReceived, c.PacketsReceived, c.FirstSeen, c.LastSeen = 3, 2, 3000, 30, t0+1, t0+33
				return c
			}(),
		}},
		{"a flow to itself, ICMP without ports, IPv4-mapped normalised", 0, []Flow{
			{Start: t0, Src: netip.MustParseAddr("::ffff:10.0.0.1"), Dst: ipA, Protocol: 1, Bytes: 84, Packets: 1, Rejected: true},
		}, []ConnSet{
			func() ConnSet {
				c := win(ipA, t0)
				c.Peers, c.PeersCount = []netip.Addr{ipA}, 1
				c.FlowsSent, c.FlowsReceived, c.FlowsRejected = 1, 1, 1
				c.BytesSent, c.BytesReceived, c.PacketsSent, c.PacketsReceived, c.FirstSeen, c.LastSeen = 84, 84, 1, 1, t0, t0
				return c
			}(),
		}},
		{"windows by start, late by watermark", t0 + 600 + 900, []Flow{
			tcp(ipC, ipA, t0+599, 53, false), // window t0 closed at t0+600+900: late
			tcp(ipC, ipA, t0+600, 53, false), // next window: on time
		}, []ConnSet{
			func() ConnSet {
				c := win(ipA, t0)
				c.Peers, c.PeersCount = []netip.Addr{ipC}, 1
				c.FlowsReceived, c.FlowsLate, c.BytesReceived, c.PacketsReceived, c.FirstSeen, c.LastSeen = 1, 1, 1000, 10, t0+599, t0+629
				return c
			}(),
			func() ConnSet {
				c := win(ipC, t0)
				c.Peers, c.PeersCount, c.DstPorts = []netip.Addr{ipA}, 1, []uint16{53}
				c.FlowsSent, c.FlowsLate, c.BytesSent, c.PacketsSent, c.FirstSeen, c.LastSeen = 1, 1, 1000, 10, t0+599, t0+629
				return c
			}(),
			func() ConnSet {
				c := win(ipA, t0+600)
				c.Peers, c.PeersCount = []netip.Addr{ipC}, 1
				c.FlowsReceived, c.BytesReceived, c.PacketsReceived, c.FirstSeen, c.LastSeen = 1, 1000, 10, t0+600, t0+630
				return c
			}(),
			func() ConnSet {
				c := win(ipC, t0+600)
				c.Peers, c.PeersCount, c.DstPorts = []netip.Addr{ipA}, 1, []uint16{53}
				c.FlowsSent, c.BytesSent, c.PacketsSent, c.FirstSeen, c.LastSeen = 1, 1000, 10, t0+600, t0+630
				return c
			}(),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustAccumulator(t, DefaultConfig())
			a.SetWatermark(tt.watermark)
			for _, f := range tt.flows {
				if _, err := a.Add(f); err != nil {
					t.Fatalf("Add(%+v): %v", f, err)
				}
			}
			parts := a.Cut("shardId-000000000001", "4959", "4980")
			var got []ConnSet
			for _, p := range parts {
				if p.ShardID != "shardId-000000000001" || p.FirstSequence != "4959" {
					t.Errorf("partial names shard %q from %q", p.ShardID, p.FirstSequence)
				}
				got = append(got, p.ConnSet)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateComparable(netip.Addr{}), cmpopts.IgnoreUnexported(ConnSet{})); diff != "" {
				t.Errorf("partials (-want +got):\n%s", diff)
			}
			if s := a.Stats(); s.TrackedIPs != 0 || s.TrackedPeers != 0 || s.OpenWindows != 0 || s.Flows != uint64(len(tt.flows)) {
				t.Errorf("after Cut: %+v", s)
			}
			if again := a.Cut("shardId-000000000001", "5000", "5001"); again != nil {
				t.Errorf("a second Cut returned %d partials", len(again))
			}
		})
	}
}

func TestAddInvalid(t *testing.T) {
	tests := []struct {
		name string
		f    Flow
	}{
		{"no source", Flow{Start: t0, Dst: ipA}},
		{"no destination", Flow{Start: t0, Src: ipA}},
		{"before 1970", Flow{Start: -1, Src: ipA, Dst: ipB}},
		{"after 9999", Flow{Start: 1 << 40, Src: ipA, Dst: ipB}},
	}
	a := mustAccumulator(t, DefaultConfig())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := a.Add(tt.f); !errors.Is(err, ErrInvalidFlow) {
				t.Errorf("Add = %v, want ErrInvalidFlow", err)
			}
		})
	}
	if s := a.Stats(); s.Invalid != uint64(len(tests)) || s.Flows != 0 || s.TrackedIPs != 0 {
		t.Errorf("Stats = %+v, want %d invalid and nothing tracked", s, len(tests))
	}
}

func TestLimitsAskForACut(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Config)
		flows int // flows added before Full, each between two new IPs in a new window
	}{
		{"windows", func(c *Config) { c.MaxOpenWindows = 3 }, 3},
		{"tracked IPs", func(c *Config) { c.MaxTrackedIPs = 7 }, 4},
		{"tracked peers", func(c *Config) { c.MaxTrackedPeers = 9 }, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.edit(&cfg)
			a := mustAccumulator(t, cfg)
			for i := range 10 {
				f := Flow{Start: t0 + int64(i)*600, Src: netip.AddrFrom4([4]byte{10, 0, 0, byte(2 * i)}),
					Dst: netip.AddrFrom4([4]byte{10, 0, 0, byte(2*i + 1)})}
				sig, err := a.Add(f)
				if err != nil {
					t.Fatal(err)
				}
				if want := i+1 >= tt.flows; sig.Full() != want || a.Full() != want {
					t.Fatalf("flow %d: Full %v, want %v", i+1, sig.Full(), want)
				}
			}
			// Nothing is dropped past the limit: the partial holds every flow.
			if got := len(a.Cut("s", "1", "9")); got != 20 {
				t.Errorf("Cut returned %d partials, want 20", got)
			}
			if a.Full() {
				t.Error("still full after Cut")
			}
		})
	}
}

func TestCutEstimatesPastTheCap(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxExactPeers = 100
	a := mustAccumulator(t, cfg)
	for n := range 1000 {
		for range n % 7 { // repeats do not count
			if _, err := a.Add(Flow{Start: t0, Src: ipA, Dst: netip.AddrFrom4([4]byte{10, 9, byte(n >> 8), byte(n)})}); err != nil {
				t.Fatal(err)
			}
		}
	}
	parts := a.Cut("s", "1", "9")
	var hub *Partial
	for i := range parts {
		if parts[i].IP == ipA {
			hub = &parts[i]
		} else if parts[i].PeersEstimated || parts[i].PeersCount != 1 {
			t.Errorf("%v: %d peers, estimated %v; want 1 exact", parts[i].IP, parts[i].PeersCount, parts[i].PeersEstimated)
		}
	}
	distinct := 1000 - 1000/7 - 1 // n%7 == 0 adds nothing
	if hub == nil || !hub.PeersEstimated || hub.Peers != nil || hub.sketch == nil {
		t.Fatalf("hub: %+v, want an estimated set", hub)
	}
	if !withinSketchError(hub.PeersCount, distinct) {
		t.Errorf("hub: estimate %d, want %d within %.2f%%", hub.PeersCount, distinct, 100*sketchTolerance)
	}
}
