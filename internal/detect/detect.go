package detect

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
)

// A Rule names one detection. Its String is the rule's name in alerts (rule.name).
type Rule uint8

// The rules, in the order Evaluate reports an IP's alerts.
const (
	HorizontalScan Rule = iota + 1
	VerticalScan
	RejectStorm
	UnusualEgress
)

// ThreatMatch is the rule of an address on a threat list exchanging flows in a window. It reads the flows'
// enrichment (internal/enrich), not the connection sets: the finalizer raises it (ThreatAlert), Evaluate does not.
const ThreatMatch Rule = UnusualEgress + 1

// Rules lists every rule Evaluate applies to connection sets.
var Rules = [...]Rule{HorizontalScan, VerticalScan, RejectStorm, UnusualEgress}

// AllRules lists every rule an alert may name: Rules and ThreatMatch.
var AllRules = [...]Rule{HorizontalScan, VerticalScan, RejectStorm, UnusualEgress, ThreatMatch}

var ruleNames = [...]string{"", "horizontal_scan", "vertical_scan", "reject_storm", "unusual_egress", "threat_match"}

// Technique ids of MITRE ATT&CK. A reject storm has none: it is a symptom (a brute force, a misconfigured client, a
// scan seen from its target), not one technique.
var ruleTechniques = [...]string{"", "T1046", "T1046", "", "T1048", ""}

func (r Rule) String() string {
	if int(r) < len(ruleNames) && r != 0 {
		return ruleNames[r]
	}
	return fmt.Sprintf("rule(%d)", uint8(r))
}

// ParseRule returns the rule named name (its String), or false.
func ParseRule(name string) (Rule, bool) {
	for _, r := range AllRules {
		if ruleNames[r] == name {
			return r, true
		}
	}
	return 0, false
}

// TechniqueName and Tactic are the names ATT&CK gives r's technique and its tactic, "" when r has none.
func (r Rule) TechniqueName() string {
	switch r.Technique() {
	case "T1046":
		return "Network Service Discovery"
	case "T1048":
		return "Exfiltration Over Alternative Protocol"
	}
	return ""
}

// Tactic is the ATT&CK tactic of r's technique, "" when r has none.
func (r Rule) Tactic() string {
	switch r.Technique() {
	case "T1046":
		return "Discovery"
	case "T1048":
		return "Exfiltration"
	}
	return ""
}

// Technique is the MITRE ATT&CK technique id of r, or "" when it has none.
func (r Rule) Technique() string {
	if int(r) < len(ruleTechniques) {
		return ruleTechniques[r]
	}
	return ""
}

// A Window is the closed window the sets describe: [Start, End), Unix seconds, as in aggregate.ConnSet.
type Window struct{ Start, End int64 }

// Severities, on the scale of Elastic's detection rules (risk score): an alert's Severity follows its Score.
const (
	SeverityLow      = 21 // Score below 2: past the threshold, less than twice over
	SeverityMedium   = 47 // Score 2 to 4
	SeverityHigh     = 73 // Score 4 to 10
	SeverityCritical = 99 // Score 10 and more
)

// SeverityOf is the severity of an alert of the given score.
func SeverityOf(score float64) int {
	switch {
	case score >= 10:
		return SeverityCritical
	case score >= 4:
		return SeverityHigh
	case score >= 2:
		return SeverityMedium
	}
	return SeverityLow
}

// An Alert is one rule firing on one IP in one window.
type Alert struct {
	Rule   Rule // its MITRE ATT&CK technique is Rule.Technique()
	IP     netip.Addr
	Window Window
	// Score is how many times over its firing level the IP's measure is (1 is just at it): peers for a horizontal
	// scan, service ports for a vertical one, rejected flows or bytes sent against the level its baseline sets.
	Score    float64
	Severity int
	Evidence Evidence
	Reason   string // one sentence for a person
}

// Evidence is what the rule saw: the IP's counts, bounded sorted samples of its peers and ports, and the baseline
// it was compared against (nil when the rule uses none or the IP had too short a history).
type Evidence struct {
	Peers          uint64
	PeersEstimated bool
	Ports          uint64
	ServicePorts   uint64
	FlowsSent      uint64
	FlowsReceived  uint64
	Rejected       uint64
	BytesSent      uint64
	PeerSample     []netip.Addr
	PortSample     []uint16
	Baseline       *Baseline
}

// A Detector evaluates the rules of one Config. It keeps no state between windows (the caller keeps the history),
// so one Detector may serve concurrent calls.
type Detector struct {
	cfg   Config
	allow [len(Rules) + 1]allowList
}

// New returns a Detector for cfg, or every problem of cfg (wrapping ErrConfig).
func New(cfg Config) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Detector{cfg: cfg}
	d.allow[HorizontalScan] = newAllowList(cfg.Horizontal.Allow)
	d.allow[VerticalScan] = newAllowList(cfg.Vertical.Allow)
	d.allow[RejectStorm] = newAllowList(cfg.RejectStorm.Allow)
	d.allow[UnusualEgress] = newAllowList(cfg.Egress.Allow)
	return d, nil
}

// An allowList matches an address against IPs and CIDRs: single addresses in a map (vulnerability scanners and
// NAT gateways are usually listed one by one, and a list may be long), the wider prefixes by a scan of the few.
type allowList struct {
	hosts    map[netip.Addr]struct{}
	prefixes []netip.Prefix
}

func newAllowList(ps []netip.Prefix) allowList {
	var l allowList
	for _, p := range ps {
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			// The sets hold IPv4 as IPv4, so ::ffff:10.0.0.0/104 must be 10.0.0.0/8 to match them.
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		p = p.Masked()
		if p.IsSingleIP() {
			if l.hosts == nil {
				l.hosts = map[netip.Addr]struct{}{}
			}
			l.hosts[p.Addr()] = struct{}{}
		} else {
			l.prefixes = append(l.prefixes, p)
		}
	}
	return l
}

func (l *allowList) contains(ip netip.Addr) bool {
	if _, ok := l.hosts[ip]; ok {
		return true
	}
	for _, p := range l.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Candidate reports whether some rule could fire on s with the right baseline: the finalizer keeps such sets (a
// few per window) and lets the rest go as it reads them.
func (d *Detector) Candidate(s *Set) bool {
	if d.NeedsBaseline(s) {
		return true
	}
	for _, r := range [...]Rule{HorizontalScan, VerticalScan} {
		if _, _, ok := d.check(r, s, &Baseline{}); ok && !d.allow[r].contains(s.IP.Unmap()) {
			return true
		}
	}
	return false
}

// NeedsBaseline reports whether Evaluate would read s's baseline: it passes the absolute floor of reject_storm or
// unusual_egress. Only those IPs' histories are worth reading.
func (d *Detector) NeedsBaseline(s *Set) bool {
	return s.Rejected >= d.cfg.RejectStorm.MinRejected || s.BytesSent >= d.cfg.Egress.MinBytes
}

// Evaluate runs every rule over the sets of one closed window and returns the alerts, ordered by IP, then rule
// (the order of Rules), then score: the same input gives the same output. baselines holds each IP's Baseline
// (BaselineOf of its previous windows), keyed by the IP as the sets hold it, IPv4-mapped addresses as IPv4; an IP
// missing from it has no history. The sets are expected one per IP; the
// alerts copy what they keep of them, so the sets may be reused afterwards.
func (d *Detector) Evaluate(window Window, sets []Set, baselines map[netip.Addr]Baseline) []Alert {
	var alerts []Alert
	for i := range sets {
		s := &sets[i]
		ip := s.IP.Unmap()
		if !ip.IsValid() {
			continue
		}
		// Only the baseline rules past their floors read the baseline: most sets reach neither, and the map lookup
		// is most of what a quiet set would cost.
		var b Baseline
		if d.NeedsBaseline(s) {
			b = baselines[ip]
		}
		for _, r := range Rules {
			score, base, ok := d.check(r, s, &b)
			if !ok || d.allow[r].contains(ip) {
				continue
			}
			alerts = append(alerts, d.alert(r, window, ip, s, score, base))
		}
	}
	slices.SortStableFunc(alerts, func(x, y Alert) int {
		return cmp.Or(x.IP.Compare(y.IP), cmp.Compare(x.Rule, y.Rule), cmp.Compare(x.Score, y.Score))
	})
	return alerts
}

// check applies rule r to s. It reports whether r fires, with the score and, for the baseline rules with enough
// history, the baseline it compared against. It allocates nothing: most sets fire nothing.
func (d *Detector) check(r Rule, s *Set, b *Baseline) (score float64, base *Baseline, ok bool) {
	c := &d.cfg
	switch r {
	case HorizontalScan:
		h := &c.Horizontal
		if s.Peers < h.MinPeers || s.FlowsSent < h.MinFlowsSent {
			return 0, nil, false
		}
		if !rejectedMostly(s.Rejected, s.FlowsSent, s.FlowsReceived, h.RejectedShare) && !(s.ServicePorts <= h.FewPorts && answered(s) <= h.AnsweredShare) {
			return 0, nil, false
		}
		return float64(s.Peers) / float64(h.MinPeers), nil, true
	case VerticalScan:
		v := &c.Vertical
		if s.ServicePorts < v.MinPorts || s.Peers > v.MaxPeers {
			return 0, nil, false
		}
		return float64(s.ServicePorts) / float64(v.MinPorts), nil, true
	case RejectStorm:
		rs := &c.RejectStorm
		if s.Rejected < rs.MinRejected {
			return 0, nil, false
		}
		if b.Windows < c.MinBaselineWindows {
			return ratio(s.Rejected, float64(rs.NewIPMinRejected))
		}
		// A count's own noise is about the square root of its mean (Poisson), so a deviation measured on a quiet
		// history (a mean of 4, a deviation of 0.5) cannot make an ordinary 15 look like a storm.
		sd := max(b.RejectedStd, math.Sqrt(b.RejectedMean), 1)
		level := max(float64(rs.MinRejected), rs.MinFactor*b.RejectedMean, b.RejectedMean+rs.MinZ*sd)
		score, _, ok = ratio(s.Rejected, level)
		return score, b, ok
	case UnusualEgress:
		e := &c.Egress
		if s.BytesSent < e.MinBytes {
			return 0, nil, false
		}
		if b.Windows < c.MinBaselineWindows {
			return ratio(s.BytesSent, float64(e.NewIPMinBytes))
		}
		level := max(float64(e.MinBytes), e.MinFactor*b.BytesSentMean, b.BytesSentMean+e.MinZ*max(b.BytesSentStd, 1))
		score, _, ok = ratio(s.BytesSent, level)
		return score, b, ok
	}
	return 0, nil, false
}

// ratio is v over its firing level, and whether v reaches it.
func ratio(v uint64, level float64) (float64, *Baseline, bool) {
	return float64(v) / level, nil, float64(v) >= level
}

// rejectedMostly reports whether at least share of all the flows (sent and received) were rejected: the check of
// the horizontal scan and the words of its reason.
func rejectedMostly(rejected, sent, received uint64, share float64) bool {
	flows := float64(sent) + float64(received)
	return flows > 0 && float64(rejected) >= share*flows
}

// answered is the share of the flows s sent that were answered, taken as flows received over flows sent (at most 1).
func answered(s *Set) float64 {
	if s.FlowsSent == 0 {
		return 1
	}
	return min(float64(s.FlowsReceived)/float64(s.FlowsSent), 1)
}

func (d *Detector) alert(r Rule, w Window, ip netip.Addr, s *Set, score float64, base *Baseline) Alert {
	a := Alert{
		Rule: r, IP: ip, Window: w, Score: score, Severity: SeverityOf(score),
		Evidence: Evidence{
			Peers: s.Peers, PeersEstimated: s.PeersEstimated, Ports: s.Ports, ServicePorts: s.ServicePorts,
			FlowsSent: s.FlowsSent, FlowsReceived: s.FlowsReceived, Rejected: s.Rejected, BytesSent: s.BytesSent,
			PeerSample: sample(s.PeerSample, d.cfg.SampleSize, netip.Addr.Compare),
			PortSample: sample(s.PortSample, d.cfg.SampleSize, cmp.Compare[uint16]),
		},
	}
	if base != nil {
		b := *base
		a.Evidence.Baseline = &b
	}
	a.Reason = d.reason(&a)
	return a
}

// sample returns the n lowest distinct values of xs, sorted, in memory of its own.
func sample[T any](xs []T, n int, compare func(T, T) int) []T {
	if len(xs) == 0 || n == 0 {
		return nil
	}
	out := slices.Clone(xs)
	slices.SortFunc(out, compare)
	out = slices.CompactFunc(out, func(a, b T) bool { return compare(a, b) == 0 })
	return slices.Clip(out[:min(n, len(out))])
}

func (d *Detector) reason(a *Alert) string {
	e := &a.Evidence
	flows := e.FlowsSent + e.FlowsReceived
	switch a.Rule {
	case HorizontalScan:
		if rejectedMostly(e.Rejected, e.FlowsSent, e.FlowsReceived, d.cfg.Horizontal.RejectedShare) {
			return fmt.Sprintf("%v reached %s distinct peers, and %d of its %d flows were rejected.",
				a.IP, peers(e), e.Rejected, flows)
		}
		return fmt.Sprintf("%v reached %s distinct peers on %d service ports, and %d of the %d flows it sent were answered.",
			a.IP, peers(e), e.ServicePorts, min(e.FlowsReceived, e.FlowsSent), e.FlowsSent)
	case VerticalScan:
		noun := "peers"
		if e.Peers == 1 && !e.PeersEstimated {
			noun = "peer"
		}
		return fmt.Sprintf("%v sent to %d distinct service ports on %s %s.", a.IP, e.ServicePorts, peers(e), noun)
	case RejectStorm:
		if b := e.Baseline; b != nil {
			return fmt.Sprintf("%v had %d rejected flows, against a mean of %.1f (deviation %.1f) over its previous %d windows.",
				a.IP, e.Rejected, b.RejectedMean, b.RejectedStd, b.Windows)
		}
		return fmt.Sprintf("%v had %d rejected flows with too little history of its own (at least %d pages).",
			a.IP, e.Rejected, d.cfg.RejectStorm.NewIPMinRejected)
	case UnusualEgress:
		if b := e.Baseline; b != nil {
			return fmt.Sprintf("%v sent %s, against a mean of %s (deviation %s) over its previous %d windows.",
				a.IP, size(float64(e.BytesSent)), size(b.BytesSentMean), size(b.BytesSentStd), b.Windows)
		}
		return fmt.Sprintf("%v sent %s with too little history of its own (at least %s pages).",
			a.IP, size(float64(e.BytesSent)), size(float64(d.cfg.Egress.NewIPMinBytes)))
	}
	return fmt.Sprintf("%v: %v fired.", a.IP, a.Rule)
}

func peers(e *Evidence) string {
	if e.PeersEstimated {
		return fmt.Sprintf("about %d", e.Peers)
	}
	return fmt.Sprint(e.Peers)
}

// size writes bytes in binary units, three significant digits.
func size(b float64) string {
	units := [...]string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", b)
	}
	return fmt.Sprintf("%.3g %s", b, units[i])
}

// A ThreatFinding is what the flows of one window say of one listed address: the lists that hold it, its flows and
// bytes, and the addresses it exchanged them with (the lowest first, a bounded sample).
type ThreatFinding struct {
	IP         netip.Addr
	Lists      []string
	Flows      uint64
	Bytes      uint64
	Peers      uint64 // distinct peers
	PeerSample []netip.Addr
}

// ThreatAlert is the alert of a listed address in window w: high severity whatever the volume (a single flow
// with a known-bad address is what an analyst wants to hear about), its evidence the finding's counts and peers.
func (d *Detector) ThreatAlert(w Window, f ThreatFinding) Alert {
	a := Alert{Rule: ThreatMatch, IP: f.IP.Unmap(), Window: w, Score: 1, Severity: SeverityHigh,
		Evidence: Evidence{Peers: f.Peers, FlowsSent: f.Flows, BytesSent: f.Bytes,
			PeerSample: sample(f.PeerSample, d.cfg.SampleSize, netip.Addr.Compare)}}
	a.Reason = fmt.Sprintf("%v, on the list %s, exchanged %d flows (%s) with %d addresses of the VPCs.",
		a.IP, strings.Join(f.Lists, ", "), f.Flows, size(float64(f.Bytes)), f.Peers)
	return a
}
