package detect

import (
	"errors"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kinflow/kinflow/aggregate"
)

const gib = 1 << 30

// addrs compares netip.Addrs, whose fields are unexported, by value.
var addrs = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

var window = Window{Start: 1_795_435_200, End: 1_795_435_800}

// history36 is a baseline of six hours.
func history36(rejMean, rejStd, bytesMean, bytesStd float64) Baseline {
	return Baseline{Windows: 36, RejectedMean: rejMean, RejectedStd: rejStd, BytesSentMean: bytesMean, BytesSentStd: bytesStd}
}

func mustNew(tb testing.TB, cfg Config) *Detector {
	tb.Helper()
	d, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func rulesOf(alerts []Alert) []string {
	var out []string
	for _, a := range alerts {
		out = append(out, a.Rule.String())
	}
	return out
}

// The legitimate heavy talkers, at the size of a busy VPC: each exceeds some rule's first threshold, none must fire.
var (
	natGateway = Set{IP: netip.MustParseAddr("10.0.0.5"), Peers: 2500, Ports: 9000, ServicePorts: 2,
		FlowsSent: 40_000, FlowsReceived: 40_000, Rejected: 30, BytesSent: 8 * gib, BytesReceived: 8 * gib}
	natBaseline  = history36(25, 8, 6*gib, 1.5*gib)
	loadBalancer = Set{IP: netip.MustParseAddr("10.0.0.10"), Peers: 5000, Ports: 12_000, ServicePorts: 1,
		FlowsSent: 24_000, FlowsReceived: 24_000, Rejected: 70, BytesSent: 4 * gib}
	lbBaseline = history36(60, 10, 3*gib, 0.6*gib)
	resolver   = Set{IP: netip.MustParseAddr("10.0.0.2"), Peers: 3000, Ports: 20_000, ServicePorts: 1,
		FlowsSent: 30_000, FlowsReceived: 30_000, BytesSent: 50 << 20}
	resolverBaseline = history36(0, 0, 45<<20, 5<<20)
	monitoring       = Set{IP: netip.MustParseAddr("10.0.0.20"), Peers: 1200, Ports: 3, ServicePorts: 3,
		FlowsSent: 2400, FlowsReceived: 2400, BytesSent: 1 << 20}
	monitoringBaseline = history36(0, 0, 1<<20, 1<<10)
	// A database answering five application servers on thousands of their ephemeral ports.
	database = Set{IP: netip.MustParseAddr("10.0.2.30"), Peers: 5, Ports: 4000, ServicePorts: 0,
		FlowsSent: 4000, FlowsReceived: 4000, BytesSent: 300 << 20}
)

func TestRules(t *testing.T) {
	sweeper := Set{IP: netip.MustParseAddr("10.0.1.77"), Peers: 264, ServicePorts: 4, Ports: 12,
		FlowsSent: 284, FlowsReceived: 40, Rejected: 229}
	quiet := history36(0.2, 0.5, 2<<20, 1<<20)
	tests := []struct {
		name     string
		set      Set
		baseline *Baseline
		want     []string
	}{
		{"NAT gateway", natGateway, &natBaseline, nil},
		{"NAT gateway, new", natGateway, nil, nil},
		{"load balancer", loadBalancer, &lbBaseline, nil},
		{"DNS resolver", resolver, &resolverBaseline, nil},
		{"monitoring", monitoring, &monitoringBaseline, nil},
		{"database answering its clients", database, nil, nil},

		{"sweep of a /24, mostly rejected", sweeper, &quiet, []string{"horizontal_scan", "reject_storm"}},
		{"fan-out on one port, unanswered", Set{IP: netip.MustParseAddr("10.0.1.5"), Peers: 500, ServicePorts: 1,
			Ports: 1, FlowsSent: 500, FlowsReceived: 10}, nil, []string{"horizontal_scan"}},
		{"fan-out on one port, answered", Set{IP: netip.MustParseAddr("10.0.1.5"), Peers: 500, ServicePorts: 1,
			Ports: 1, FlowsSent: 500, FlowsReceived: 480}, nil, nil},
		{"99 peers, all rejected", Set{IP: netip.MustParseAddr("10.0.1.5"), Peers: 99, FlowsSent: 99, Rejected: 99,
			ServicePorts: 1}, nil, nil},
		{"many peers, but received, not sent", Set{IP: netip.MustParseAddr("10.0.1.5"), Peers: 400, FlowsSent: 20,
			FlowsReceived: 400, Rejected: 400}, nil, nil},

		{"vertical scan of 1,000 ports", Set{IP: netip.MustParseAddr("198.51.100.23"), Peers: 1, Ports: 1000,
			ServicePorts: 1000, FlowsSent: 1000, FlowsReceived: 2, Rejected: 998}, nil,
			[]string{"vertical_scan", "reject_storm"}},
		{"1,000 ports on 21 peers", Set{IP: netip.MustParseAddr("10.0.1.5"), Peers: 21, Ports: 1000, ServicePorts: 1000,
			FlowsSent: 1000, FlowsReceived: 1000}, nil, nil},
		{"99 service ports", Set{IP: netip.MustParseAddr("10.0.1.5"), Peers: 1, Ports: 99, ServicePorts: 99,
			FlowsSent: 99}, nil, nil},

		{"reject storm against a quiet baseline", Set{IP: netip.MustParseAddr("10.0.1.99"), Peers: 3, FlowsSent: 1500,
			Rejected: 1500}, &quiet, []string{"reject_storm"}},
		{"a quiet IP's first rejects", Set{IP: netip.MustParseAddr("10.0.1.99"), Peers: 3, FlowsSent: 60,
			Rejected: 60}, &quiet, nil},
		{"noise doubling at a load balancer", Set{IP: loadBalancer.IP, Peers: 5000, ServicePorts: 1,
			FlowsSent: 24_000, FlowsReceived: 24_000, Rejected: 125}, &lbBaseline, nil},
		{"noise quadrupling at a load balancer", Set{IP: loadBalancer.IP, Peers: 5000, ServicePorts: 1,
			FlowsSent: 24_000, FlowsReceived: 24_000, Rejected: 250}, &lbBaseline, []string{"reject_storm"}},
		{"new IP, 400 rejected", Set{IP: netip.MustParseAddr("198.51.100.7"), Peers: 1, FlowsSent: 400,
			Rejected: 400}, nil, nil},
		{"new IP, 600 rejected", Set{IP: netip.MustParseAddr("198.51.100.7"), Peers: 1, FlowsSent: 600,
			Rejected: 600}, nil, []string{"reject_storm"}},

		{"exfiltration", Set{IP: netip.MustParseAddr("10.0.1.120"), Peers: 12, FlowsSent: 80, FlowsReceived: 70,
			BytesSent: 4 * gib}, &quiet, []string{"unusual_egress"}},
		{"below the floor", Set{IP: netip.MustParseAddr("10.0.1.120"), Peers: 12, FlowsSent: 80, FlowsReceived: 70,
			BytesSent: 900 << 20}, &quiet, nil},
		{"new IP, 10 GiB", Set{IP: netip.MustParseAddr("10.0.1.200"), Peers: 12, FlowsSent: 80, BytesSent: 10 * gib},
			nil, nil},
		{"new IP, 25 GiB", Set{IP: netip.MustParseAddr("10.0.1.200"), Peers: 12, FlowsSent: 80, BytesSent: 25 * gib},
			nil, []string{"unusual_egress"}},
		{"short history is no history", Set{IP: netip.MustParseAddr("10.0.1.200"), Peers: 12, FlowsSent: 80,
			BytesSent: 10 * gib}, &Baseline{Windows: 5, BytesSentMean: 1 << 20}, nil},
	}
	d := mustNew(t, DefaultConfig())
	// Every rule allow-lists the attackers' addresses, one way or another: the same sets must then raise nothing.
	allow := DefaultConfig()
	allow.Horizontal.Allow = []netip.Prefix{netip.MustParsePrefix("10.0.1.0/24"), netip.MustParsePrefix("198.51.100.0/24")}
	allow.Vertical.Allow = []netip.Prefix{netip.MustParsePrefix("198.51.100.23/32"), netip.MustParsePrefix("10.0.0.0/8")}
	allow.RejectStorm.Allow = []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104"), netip.MustParsePrefix("198.51.100.0/25")}
	allow.Egress.Allow = []netip.Prefix{netip.MustParsePrefix("10.0.1.120/32"), netip.MustParsePrefix("10.0.1.128/25")}
	allowed := mustNew(t, allow)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var bs map[netip.Addr]Baseline
			if tt.baseline != nil {
				bs = map[netip.Addr]Baseline{tt.set.IP: *tt.baseline}
			}
			alerts := d.Evaluate(window, []Set{tt.set}, bs)
			if diff := cmp.Diff(tt.want, rulesOf(alerts), addrs); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
			for _, a := range alerts {
				if a.Score < 1 || a.IP != tt.set.IP || a.Window != window || a.Reason == "" || a.Severity < SeverityLow {
					t.Errorf("alert %+v", a)
				}
			}
			if got := allowed.Evaluate(window, []Set{tt.set}, bs); len(got) > 0 {
				t.Errorf("allow-listed, got %v", rulesOf(got))
			}
		})
	}
}

func TestAlert(t *testing.T) {
	peers := []netip.Addr{netip.MustParseAddr("10.0.4.20")}
	s := Set{IP: netip.MustParseAddr("::ffff:198.51.100.23"), Peers: 1, PeerSample: peers, Ports: 1000,
		ServicePorts: 1000, PortSample: []uint16{3, 1, 2, 2}, FlowsSent: 1000, FlowsReceived: 2, Rejected: 998}
	cfg := DefaultConfig()
	cfg.SampleSize = 2
	got := mustNew(t, cfg).Evaluate(window, []Set{s}, nil)
	want := []Alert{
		{
			Rule: VerticalScan, IP: netip.MustParseAddr("198.51.100.23"), Window: window,
			Score: 10, Severity: SeverityCritical,
			Evidence: Evidence{Peers: 1, Ports: 1000, ServicePorts: 1000, FlowsSent: 1000, FlowsReceived: 2,
				Rejected: 998, PeerSample: peers, PortSample: []uint16{1, 2}},
			Reason: "198.51.100.23 sent to 1000 distinct service ports on 1 peer.",
		},
		{
			Rule: RejectStorm, IP: netip.MustParseAddr("198.51.100.23"), Window: window, Score: 1.996,
			Severity: SeverityLow,
			Evidence: Evidence{Peers: 1, Ports: 1000, ServicePorts: 1000, FlowsSent: 1000, FlowsReceived: 2,
				Rejected: 998, PeerSample: peers, PortSample: []uint16{1, 2}},
			Reason: "198.51.100.23 had 998 rejected flows with too little history of its own (at least 500 pages).",
		},
	}
	if diff := cmp.Diff(want, got, addrs); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
	// The alert owns its samples: the caller may reuse the set's.
	s.PortSample[0] = 9
	if got[0].Evidence.PortSample[0] != 1 {
		t.Error("the alert shares the set's port sample")
	}
	base := history36(0.5, 0.5, 0, 0)
	got = mustNew(t, cfg).Evaluate(window, []Set{s}, map[netip.Addr]Baseline{s.IP.Unmap(): base})
	if b := got[1].Evidence.Baseline; b == nil || *b != base {
		t.Errorf("baseline evidence %v, want %v", b, base)
	}
}

func TestEvaluateOrder(t *testing.T) {
	sets := []Set{natGateway, loadBalancer, resolver, monitoring, database}
	r := rand.New(rand.NewPCG(7, 7))
	for i := range 50 {
		sets = append(sets, Set{IP: netip.AddrFrom4([4]byte{10, 9, 0, byte(i)}), Peers: 300, FlowsSent: 300,
			Rejected: 250 + r.Uint64N(500), ServicePorts: r.Uint64N(200), BytesSent: r.Uint64N(30 * gib)})
	}
	d := mustNew(t, DefaultConfig())
	want := d.Evaluate(window, sets, nil)
	if len(want) < 50 {
		t.Fatalf("%d alerts, want at least 50", len(want))
	}
	for range 10 {
		r.Shuffle(len(sets), func(i, j int) { sets[i], sets[j] = sets[j], sets[i] })
		if diff := cmp.Diff(want, d.Evaluate(window, sets, nil), addrs); diff != "" {
			t.Fatalf("order depends on the input's (-first +shuffled):\n%s", diff)
		}
	}
	if !slices.IsSortedFunc(want, func(x, y Alert) int {
		if c := x.IP.Compare(y.IP); c != 0 {
			return c
		}
		return int(x.Rule) - int(y.Rule)
	}) {
		t.Error("alerts not ordered by IP, then rule")
	}
}

func TestValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	err := Config{}.Validate()
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("zero config: %v, want ErrConfig", err)
	}
	// Every field with a lower bound above zero is named at once, with its range.
	for _, field := range []string{"MinBaselineWindows 0: want 1 to", "Horizontal.MinPeers 0: want 2 to",
		"Horizontal.MinFlowsSent", "Horizontal.RejectedShare 0: want 0.01 to 1", "Vertical.MinPorts 0: want 2 to 32768",
		"Vertical.MaxPeers", "RejectStorm.MinRejected", "RejectStorm.NewIPMinRejected", "RejectStorm.MinFactor",
		"Egress.MinBytes", "Egress.NewIPMinBytes", "Egress.MinFactor"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("zero config: %q lacks %q", err, field)
		}
	}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"NaN share", func(c *Config) { c.Horizontal.RejectedShare = math.NaN() }, "Horizontal.RejectedShare NaN: want 0.01 to 1"},
		{"share above 1", func(c *Config) { c.Horizontal.AnsweredShare = 1.5 }, "Horizontal.AnsweredShare 1.5: want 0 to 1"},
		{"negative z", func(c *Config) { c.Egress.MinZ = -1 }, "Egress.MinZ -1: want 0 to 1000"},
		{"infinite factor", func(c *Config) { c.RejectStorm.MinFactor = math.Inf(1) }, "RejectStorm.MinFactor +Inf"},
		{"sample too large", func(c *Config) { c.SampleSize = 5000 }, "SampleSize 5000: want 0 to 1000"},
		{"bad prefix", func(c *Config) { c.Vertical.Allow = []netip.Prefix{{}} }, "Vertical.Allow[0]: not a valid IP or CIDR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			err := c.Validate()
			if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want %q", err, tt.want)
			}
			if _, err := New(c); err == nil {
				t.Error("New accepted it")
			}
		})
	}
}

func TestBaselineOf(t *testing.T) {
	if got := BaselineOf(nil, 36); got != (Baseline{}) {
		t.Errorf("no history: %+v", got)
	}
	// Rejects 10 and 20 over four windows, two of them absent: 10, 20, 0, 0.
	got := BaselineOf([]Set{{Rejected: 10, BytesSent: 4e9}, {Rejected: 20, BytesSent: 4e9}}, 4)
	want := Baseline{Windows: 4, RejectedMean: 7.5, RejectedStd: math.Sqrt(68.75), BytesSentMean: 2e9, BytesSentStd: 2e9}
	if diff := cmp.Diff(want, got, addrs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// windows below the history's length counts the history.
	if got := BaselineOf([]Set{{Rejected: 3}, {Rejected: 3}}, 1); got.Windows != 2 || got.RejectedMean != 3 || got.RejectedStd != 0 {
		t.Errorf("short windows: %+v", got)
	}
	// Large, nearly equal byte counts keep their small deviation (a one-pass sum of squares loses it).
	got = BaselineOf([]Set{{BytesSent: 1e12}, {BytesSent: 1e12 + 2}}, 2)
	if got.BytesSentStd != 1 {
		t.Errorf("deviation of 1e12 and 1e12+2: %v, want 1", got.BytesSentStd)
	}
}

func TestSetOf(t *testing.T) {
	peers := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")}
	cs := aggregate.ConnSet{IP: netip.MustParseAddr("::ffff:10.0.0.9"), Peers: peers, PeersCount: 3,
		DstPorts: []uint16{22, 80, 443, 32767, 32768, 50000}, FlowsSent: 5, FlowsReceived: 6, FlowsRejected: 2,
		BytesSent: 100, BytesReceived: 200}
	got := SetOf(&cs, 2)
	want := Set{IP: netip.MustParseAddr("10.0.0.9"), Peers: 3, PeerSample: peers[:2], Ports: 6, ServicePorts: 4,
		PortSample: []uint16{22, 80}, FlowsSent: 5, FlowsReceived: 6, Rejected: 2, BytesSent: 100, BytesReceived: 200}
	if diff := cmp.Diff(want, got, addrs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if len(SetOf(&aggregate.ConnSet{}, 20).PortSample) != 0 {
		t.Error("empty set has a sample")
	}
}

func TestAlertID(t *testing.T) {
	ip := netip.MustParseAddr("10.0.1.77")
	a := Alert{Rule: HorizontalScan, IP: ip, Window: window}
	id := a.ID()
	if len(id) != 22 || id != a.ID() {
		t.Fatalf("id %q: want 22 characters, stable", id)
	}
	// The id names (rule, ip, window start) and nothing else: a revision with other evidence keeps it.
	same := a
	same.Score, same.Reason, same.Window.End = 7, "other", window.End+1
	same.IP = netip.MustParseAddr("::ffff:10.0.1.77")
	if same.ID() != id {
		t.Error("the id depends on more than rule, ip and window start")
	}
	seen := map[string]bool{id: true}
	for _, o := range []Alert{
		{Rule: VerticalScan, IP: ip, Window: window},
		{Rule: HorizontalScan, IP: netip.MustParseAddr("10.0.1.78"), Window: window},
		{Rule: HorizontalScan, IP: ip, Window: Window{Start: window.Start + 600}},
	} {
		if seen[o.ID()] {
			t.Errorf("%+v: id %q collides", o, o.ID())
		}
		seen[o.ID()] = true
	}
}
