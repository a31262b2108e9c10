// Package attackgen makes a labelled corpus for kinflow's detection rules, deterministically from a seed: hours of
// background traffic of a VPC, window by window, with the legitimate heavy talkers that a naive detector pages on
// (a NAT gateway, two load balancers, a DNS resolver, a monitoring system, chatty microservices), a diurnal swing of
// volume and a background of rejected internet probes; and, injected into it, attacks of several kinds, sizes and
// speeds, each with the (rule, ip, window) labels it should raise. Flows are aggregate.Flows; Aggregate turns a
// window's flows into final connection sets through the real aggregation path. Time comes from the caller.
//
// The corpus models what the flow logs of the receiving side record: a probe that a security group refuses is one
// REJECT flow from the prober to its target; an accepted connection is a request flow and, when answered, a
// response flow back to the client's ephemeral port (32768-60999).
package attackgen

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/kinflow/kinflow/aggregate"
)

// The rule names labels use: those of internal/detect, which this package does not import (a generator must not
// follow the code it tests).
const (
	HorizontalScan = "horizontal_scan"
	VerticalScan   = "vertical_scan"
	RejectStorm    = "reject_storm"
	UnusualEgress  = "unusual_egress"
)

// MinWindows is the shortest corpus: the attacks are placed in its first 33 windows, after the first hour, so
// every attacked IP has a history.
const MinWindows = 36

// WindowWidth is the width of the corpus's windows, aggregate's default.
const WindowWidth = 10 * time.Minute

// Config shapes a corpus.
type Config struct {
	Seed    uint64
	Start   time.Time // rounded down to a window boundary
	Windows int       // at least MinWindows; 36 is six hours
}

// A Window is one window's flows.
type Window struct {
	Start int64 // Unix seconds
	Flows []aggregate.Flow
}

// A Label is one alert the corpus expects: rule on ip in the window starting at Window (Unix seconds), raised by
// the named attack.
type Label struct {
	Rule   string
	IP     netip.Addr
	Window int64
	Attack string
}

// A Corpus is the windows in order and the labels of every injected attack. Talkers names the legitimate heavy
// talkers by role, for tests that hold them quiet (unless a label names them: a victim may be one). Allowed is what
// an operator would allow-list for every rule: the vulnerability scanner, which sweeps the hosts every hour and
// is, by its traffic, a scanner.
type Corpus struct {
	Windows []Window
	Labels  []Label
	Talkers map[netip.Addr]string
	Allowed []netip.Prefix
}

// ErrConfig is wrapped by the error Generate returns for a config it cannot use.
var ErrConfig = errors.New("attackgen: invalid config")

// The addresses of the VPC. Internal hosts are 10.0.0.0/16, IPv6 hosts 2001:db8:1::/64; outside peers are drawn
// from pools of public-looking addresses; attackers come from 198.51.100.0/24 and 2001:db8:bad::/48.
var (
	resolver   = netip.MustParseAddr("10.0.0.2")
	natGateway = netip.MustParseAddr("10.0.0.5")
	lbs        = []netip.Addr{netip.MustParseAddr("10.0.0.10"), netip.MustParseAddr("10.0.0.11")}
	monitor    = netip.MustParseAddr("10.0.0.20")
	backupHost = netip.MustParseAddr("10.0.5.10")
	vulnScan   = netip.MustParseAddr("10.0.5.50")
	v6Service  = netip.MustParseAddr("2001:db8:1::100")
)

const (
	clients    = 200 // 10.0.1.1 ..
	services   = 20  // 10.0.3.1 ..
	backends   = 8   // 10.0.2.1 .., a ninth from window 20 on (autoscaling: a new address with traffic at once)
	v6Hosts    = 50  // 2001:db8:1::1 ..
	upstreams  = 20  // the resolver's upstream resolvers
	externals  = 3000
	webClients = 20000
	noisePool  = 5000
)

func v4(a, b, c, d int) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(a), byte(b), byte(c), byte(d)})
}

func v6(prefix netip.Addr, n int) netip.Addr {
	b := prefix.As16()
	b[14], b[15] = byte(n>>8), byte(n)
	return netip.AddrFrom16(b)
}

func client(i int) netip.Addr  { return v4(10, 0, 1, 1+i) }
func service(i int) netip.Addr { return v4(10, 0, 3, 1+i) }
func backend(i int) netip.Addr { return v4(10, 0, 2, 1+i) }

// public returns the n-th address of a pool of public-looking addresses, spread by a fixed multiplicative hash over
// the /8 numbered 52 plus the pool, so that pools do not overlap: 0 upstream resolvers, 1 the internet behind the
// NAT gateway, 2 the load balancers' clients, 3 internet noise, 4 object storage.
func public(pool, n int) netip.Addr {
	h := uint32(n)*2654435761 + uint32(pool)
	return v4(52+pool, int(h>>16)&0xff, int(h>>8)&0xff, 1+int(h)%254)
}

// gen writes the flows of one window.
type gen struct {
	r        *rand.Rand
	start    int64
	flows    []aggregate.Flow
	backends int
}

func (g *gen) at() int64 { return g.start + g.r.Int64N(int64(WindowWidth/time.Second)-60) }

func (g *gen) ephemeral() uint16 { return uint16(32768 + g.r.IntN(60999-32768+1)) }

// conn writes a connection src -> dst:port: its request flow and, when answered, the response back to src's
// ephemeral port.
func (g *gen) conn(src, dst netip.Addr, port uint16, proto uint8, req, resp uint64) {
	t, sport := g.at(), g.ephemeral()
	g.flows = append(g.flows, aggregate.Flow{Start: t, End: t + 5, Src: src, Dst: dst, SrcPort: sport, DstPort: port,
		Protocol: proto, Bytes: req, Packets: 1 + req/1400})
	if resp > 0 {
		g.flows = append(g.flows, aggregate.Flow{Start: t, End: t + 5, Src: dst, Dst: src, SrcPort: port, DstPort: sport,
			Protocol: proto, Bytes: resp, Packets: 1 + resp/1400})
	}
}

// reject writes one refused probe src -> dst:port.
func (g *gen) reject(src, dst netip.Addr, port uint16) {
	t := g.at()
	g.flows = append(g.flows, aggregate.Flow{Start: t, End: t + 1, Src: src, Dst: dst, SrcPort: g.ephemeral(),
		DstPort: port, Protocol: 6, Bytes: 44, Packets: 1, Rejected: true})
}

func (g *gen) bytes(lo, hi uint64) uint64 { return lo + g.r.Uint64N(hi-lo+1) }

// times scales a mean count by the diurnal factor and draws around it (uniform from half to one and a half).
func (g *gen) times(mean, diurnal float64) int {
	m := mean * diurnal
	return int(m*0.5 + g.r.Float64()*m)
}

// background writes one window of ordinary traffic. diurnal is the volume factor of the hour (0.5 at night to 1.5
// in the afternoon).
func (g *gen) background(diurnal float64) {
	for i := range clients {
		c := client(i)
		for range g.times(4, diurnal) { // name lookups through the resolver, and its upstream query
			g.conn(c, resolver, 53, 17, g.bytes(60, 120), g.bytes(100, 500))
			if g.r.IntN(3) == 0 {
				g.conn(resolver, public(0, g.r.IntN(upstreams)), 53, 17, g.bytes(60, 120), g.bytes(100, 500))
			}
		}
		for range g.times(3, diurnal) { // to the internet through the NAT gateway: downloads, mostly
			ext, port := public(1, int(math.Pow(g.r.Float64(), 3)*externals)), uint16(443)
			if g.r.IntN(5) == 0 {
				port = 80
			}
			req, resp := g.bytes(500, 20_000), g.bytes(5_000, 4_000_000)
			g.conn(c, natGateway, port, 6, req, resp)
			g.conn(natGateway, ext, port, 6, req, resp)
		}
		for range g.times(3, diurnal) { // calls to the microservices
			g.conn(c, service(g.r.IntN(services)), 8080, 6, g.bytes(200, 5_000), g.bytes(500, 50_000))
		}
		if g.r.IntN(20) == 0 { // a client now and then refused by a security group
			for range 1 + g.r.IntN(5) {
				g.reject(c, service(g.r.IntN(services)), 5432)
			}
		}
	}
	for i := range services { // chatty microservices: each calls three others, many times a window
		for k := 1; k <= 3; k++ {
			for range g.times(30, diurnal) {
				g.conn(service(i), service((i+k*7)%services), 8080, 6, g.bytes(200, 8_000), g.bytes(200, 30_000))
			}
		}
	}
	for _, lb := range lbs { // load balancers: internet clients, each call forwarded to a backend
		for range g.times(400, diurnal) {
			web := public(2, g.r.IntN(webClients))
			for range 1 + g.r.IntN(2) {
				req, resp := g.bytes(300, 10_000), g.bytes(2_000, 2_000_000)
				g.conn(web, lb, 443, 6, req, resp)
				g.conn(lb, backend(g.r.IntN(g.backends)), 8080, 6, req, resp)
			}
		}
		for range 40 + g.r.IntN(40) { // internet noise: probes of common ports, refused
			g.reject(public(3, g.r.IntN(noisePool)), lb, []uint16{22, 23, 445, 3389, 8080}[g.r.IntN(5)])
		}
	}
	for range 10 + g.r.IntN(20) { // noise at the NAT gateway's public side too
		g.reject(public(3, g.r.IntN(noisePool)), natGateway, 22)
	}
	// The monitoring system scrapes every internal host on the node exporter (9100), the services also on 9102.
	for i := range clients {
		g.conn(monitor, client(i), 9100, 6, 300, g.bytes(20_000, 60_000))
	}
	for i := range services {
		g.conn(monitor, service(i), 9100, 6, 300, g.bytes(20_000, 60_000))
		g.conn(monitor, service(i), 9102, 6, 300, g.bytes(5_000, 20_000))
	}
	for i := range g.backends {
		g.conn(monitor, backend(i), 9100, 6, 300, g.bytes(20_000, 60_000))
	}
	// A backup server ships 1.5 to 2.5 GiB to object storage every window: steady heavy egress, its own normal.
	for range 24 + g.r.IntN(16) {
		g.conn(backupHost, public(4, g.r.IntN(8)), 443, 6, 64<<20, 20_000)
	}
	for i := range v6Hosts { // IPv6 hosts call an IPv6 service
		for range g.times(3, diurnal) {
			g.conn(v6(v6Service, 1+i), v6Service, 443, 6, g.bytes(200, 5_000), g.bytes(500, 100_000))
		}
	}
}

// nearMisses writes the legitimate traffic that comes close to a rule without being an attack: the vulnerability
// scanner's hourly sweep (a scan by any measure, allow-listed by its operator), a client's 60 retries against a
// refused port, and a window in which internet noise at a load balancer doubles.
func (g *gen) nearMisses(w int) {
	if w%6 == 3 { // the vulnerability scanner: every client on 30 service ports, all closed but 22 and 443
		for i := range clients {
			for _, p := range []uint16{21, 22, 23, 25, 53, 80, 110, 111, 135, 139, 143, 443, 445, 993, 995, 1433, 1521,
				2049, 3306, 3389, 5432, 5900, 6379, 8000, 8080, 8443, 9000, 9200, 11211, 27017} {
				if p == 22 || p == 443 {
					g.conn(vulnScan, client(i), p, 6, 60, 200)
				} else {
					g.reject(vulnScan, client(i), p)
				}
			}
		}
	}
	if w == 10 { // a client retrying a refused port 60 times: below any floor
		for range 60 {
			g.reject(client(149), service(7), 6379)
		}
	}
	if w == 20 { // internet noise at a load balancer doubles for a window (its background is 40 to 80)
		for range 60 {
			g.reject(public(3, g.r.IntN(noisePool)), lbs[1], 22)
		}
	}
}

// An attack writes its flows into the windows it spans and says which alerts it should raise.
type attack struct {
	name    string
	windows []int // window indexes
	inject  func(g *gen, step int)
	labels  []expect
}

// expect is one alert an attack should raise: its rule on ip, in each of the attack's windows.
type expect struct {
	rule string
	ip   netip.Addr
}

func span(from, to int) []int {
	var w []int
	for i := from; i <= to; i++ {
		w = append(w, i)
	}
	return w
}

// attacks are the injected attacks. Besides the rule each is about, a label is given for every other alert it
// should raise: a scanner refused hundreds of times is also a reject storm (against its quiet baseline, or past the
// threshold of an address without history), and so is the target of a vertical scan or a brute force.
func attacks() []attack {
	sweeper, slow := client(76), client(87)
	vscan, target := netip.MustParseAddr("198.51.100.23"), v4(10, 0, 4, 20)
	v6scan, v6vscan := netip.MustParseAddr("2001:db8:bad::5"), netip.MustParseAddr("2001:db8:bad::9")
	earlyScan, earlyTarget := client(49), v4(10, 0, 4, 22)
	storm, stormVictim := client(98), service(3)
	brute, bruteVictim := netip.MustParseAddr("198.51.100.77"), v4(10, 0, 4, 21)
	exfil, slowExfil := client(119), client(129)
	drop := netip.MustParseAddr("45.77.10.10")
	return []attack{
		{
			// A fast sweep of a /24 on SSH: every host in one window, nine in ten refused.
			name: "fast /24 sweep", windows: []int{8},
			inject: func(g *gen, _ int) {
				for h := 1; h <= 254; h++ {
					if g.r.IntN(10) == 0 {
						g.conn(sweeper, v4(10, 0, 9, h), 22, 6, 60, 60)
					} else {
						g.reject(sweeper, v4(10, 0, 9, h), 22)
					}
				}
			},
			labels: []expect{{HorizontalScan, sweeper}, {RejectStorm, sweeper}},
		},
		{
			// A slow scan of a /22 on SMB: 128 hosts a window over eight windows.
			name: "slow /22 scan", windows: span(12, 19),
			inject: func(g *gen, step int) {
				for k := range 128 {
					h := step*128 + k
					if g.r.IntN(20) == 0 {
						g.conn(slow, v4(10, 0, 16+h/256, h%256), 445, 6, 100, 100)
					} else {
						g.reject(slow, v4(10, 0, 16+h/256, h%256), 445)
					}
				}
			},
			labels: []expect{{HorizontalScan, slow}, {RejectStorm, slow}},
		},
		{
			// A vertical scan of ports 1 to 1,000 of one host from the internet; 22 and 443 are open.
			name: "vertical scan of 1,000 ports", windows: []int{15},
			inject: func(g *gen, _ int) {
				for p := uint16(1); p <= 1000; p++ {
					if p == 22 || p == 443 {
						g.conn(vscan, target, p, 6, 60, 60)
					} else {
						g.reject(vscan, target, p)
					}
				}
			},
			labels: []expect{{VerticalScan, vscan}, {RejectStorm, vscan}, {RejectStorm, target}},
		},
		{
			// An IPv6 vertical scan of 200 ports of the IPv6 service, all refused but 443.
			name: "IPv6 vertical scan", windows: []int{33},
			inject: func(g *gen, _ int) {
				for p := uint16(1); p <= 200; p++ {
					if p == 443 {
						g.conn(v6vscan, v6Service, p, 6, 60, 60)
					} else {
						g.reject(v6vscan, v6Service, p)
					}
				}
			},
			labels: []expect{{VerticalScan, v6vscan}, {RejectStorm, v6Service}},
		},
		{
			// An early internal vertical scan (the first hour, before baselines): ports 1000 to 1299 of one host.
			// Its 300 refusals stay under the threshold of addresses without enough history: no reject storm.
			name: "early vertical scan", windows: []int{5},
			inject: func(g *gen, _ int) {
				for p := uint16(1000); p < 1300; p++ {
					g.reject(earlyScan, earlyTarget, p)
				}
			},
			labels: []expect{{VerticalScan, earlyScan}},
		},
		{
			// An IPv6 sweep of 300 addresses of the VPC's /64, all refused but the hosts that exist.
			name: "IPv6 sweep", windows: []int{22},
			inject: func(g *gen, _ int) {
				for h := 1; h <= 300; h++ {
					if h <= v6Hosts && g.r.IntN(5) == 0 {
						g.conn(v6scan, v6(v6Service, h), 22, 6, 60, 60)
					} else {
						g.reject(v6scan, v6(v6Service, h), 22)
					}
				}
			},
			labels: []expect{{HorizontalScan, v6scan}},
		},
		{
			// A client retrying a database it may no longer reach (a rotated credential, a changed security group):
			// 1,500 refused connections to one service.
			name: "reject storm", windows: []int{25},
			inject: func(g *gen, _ int) {
				for range 1500 {
					g.reject(storm, stormVictim, 5432)
				}
			},
			labels: []expect{{RejectStorm, storm}, {RejectStorm, stormVictim}},
		},
		{
			// A brute force on SSH from a new address: 900 refused attempts.
			name: "SSH brute force", windows: []int{30},
			inject: func(g *gen, _ int) {
				for range 900 {
					g.reject(brute, bruteVictim, 22)
				}
			},
			labels: []expect{{RejectStorm, brute}, {RejectStorm, bruteVictim}},
		},
		{
			// An exfiltration burst: 4 GiB to one outside address in one window, from a host that sends megabytes.
			name: "exfiltration burst", windows: []int{27},
			inject: func(g *gen, _ int) {
				for range 64 {
					g.conn(exfil, drop, 443, 6, 64<<20, 4_000)
				}
			},
			labels: []expect{{UnusualEgress, exfil}},
		},
		{
			// A slower exfiltration: 2 GiB a window for two windows.
			name: "two-window exfiltration", windows: []int{31, 32},
			inject: func(g *gen, _ int) {
				for range 32 {
					g.conn(slowExfil, drop, 443, 6, 64<<20, 4_000)
				}
			},
			labels: []expect{{UnusualEgress, slowExfil}},
		},
	}
}

// Generate makes the corpus of cfg.
func Generate(cfg Config) (*Corpus, error) {
	if cfg.Windows < MinWindows {
		return nil, fmt.Errorf("%w: Windows %d: want at least %d", ErrConfig, cfg.Windows, MinWindows)
	}
	if cfg.Start.IsZero() {
		return nil, fmt.Errorf("%w: Start unset: want the corpus's first window", ErrConfig)
	}
	width := int64(WindowWidth / time.Second)
	first := cfg.Start.Unix() - cfg.Start.Unix()%width
	r := rand.New(rand.NewPCG(cfg.Seed, 0x6b696e666c6f77)) // "kinflow"
	atk := attacks()
	c := &Corpus{Talkers: map[netip.Addr]string{
		resolver: "dns resolver", natGateway: "nat gateway", lbs[0]: "load balancer a", lbs[1]: "load balancer b",
		monitor: "monitoring", backupHost: "backup server",
	}, Allowed: []netip.Prefix{netip.PrefixFrom(vulnScan, 32)}}
	for i := range services {
		c.Talkers[service(i)] = "microservice"
	}
	for w := range cfg.Windows {
		g := &gen{r: r, start: first + int64(w)*width, backends: backends}
		if w >= 20 {
			g.backends++
		}
		// Volume follows the hour of the day: lowest at 04:00 UTC, highest at 16:00.
		hour := float64(g.start%86400) / 3600
		g.background(1 - 0.5*math.Cos((hour-4)/24*2*math.Pi))
		g.nearMisses(w)
		for _, a := range atk {
			for step, aw := range a.windows {
				if aw != w {
					continue
				}
				a.inject(g, step)
				for _, l := range a.labels {
					c.Labels = append(c.Labels, Label{Rule: l.rule, IP: l.ip, Window: g.start, Attack: a.name})
				}
			}
		}
		// Flow logs arrive out of order; so do the corpus's flows.
		r.Shuffle(len(g.flows), func(i, j int) { g.flows[i], g.flows[j] = g.flows[j], g.flows[i] })
		c.Windows = append(c.Windows, Window{Start: g.start, Flows: g.flows})
	}
	return c, nil
}

// Aggregate runs flows through the real aggregation path, as the pipeline and the finalizer do: the flows dealt
// over shards accumulators (round robin), each cut into partials every cutEvery flows (a checkpoint), and all
// partials merged by aggregate.Finalize into the final connection sets, ordered by window then IP.
func Aggregate(flows []aggregate.Flow, shards, cutEvery int) ([]aggregate.Final, error) {
	cfg := aggregate.DefaultConfig()
	accs := make([]*aggregate.Accumulator, shards)
	for i := range accs {
		a, err := aggregate.NewAccumulator(cfg)
		if err != nil {
			return nil, err
		}
		accs[i] = a
	}
	// Each flow is one record of its shard, numbered from 1; a cut covers the records since the previous one, so
	// the blocks of a shard cover disjoint ranges [first, last], as checkpoints make them.
	var blocks []aggregate.Block
	added, first := make([]int, shards), make([]int, shards)
	cut := func(s int) {
		shard := fmt.Sprint("shard-", s)
		blocks = append(blocks, aggregate.Blocks(accs[s].Cut(shard, fmt.Sprint(first[s]+1), fmt.Sprint(added[s])), aggregate.BlockBytes)...)
		first[s] = added[s]
	}
	for i, f := range flows {
		s := i % shards
		if _, err := accs[s].Add(f); err != nil {
			return nil, fmt.Errorf("flow %d: %w", i, err)
		}
		if added[s]++; added[s]-first[s] == cutEvery {
			cut(s)
		}
	}
	for s := range accs {
		if added[s] > first[s] {
			cut(s)
		}
	}
	return aggregate.FinalizeBlocks(blocks, cfg.MaxExactPeers, 1)
}
