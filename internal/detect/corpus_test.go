package detect

import (
	"fmt"
	"maps"
	"math"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/kinflow/kinflow/internal/testing/attackgen"
)

// baselineSpan is how many previous windows the corpus test's baselines cover: six hours.
const baselineSpan = 36

// history keeps each IP's Sets of the previous windows, the way the finalizer is meant to: bounded to the
// baseline's span, without samples (a baseline needs only the counters), and without the windows in which the IP
// raised an alert, so that an ongoing incident does not become the norm its next window is judged by (a second
// window of exfiltration would otherwise hide behind the first).
type history struct {
	first int // index of the first window the data covers
	sets  map[netip.Addr][]windowSet
	// alerted[ip] lists the windows in which ip alerted: they are left out of its baseline's windows.
	alerted map[netip.Addr][]int
}

type windowSet struct {
	w int
	s Set
}

func newHistory() *history {
	return &history{sets: map[netip.Addr][]windowSet{}, alerted: map[netip.Addr][]int{}}
}

// baselines returns the baseline of every IP seen in the span before window w.
func (h *history) baselines(w int) map[netip.Addr]Baseline {
	from := max(h.first, w-baselineSpan)
	out := make(map[netip.Addr]Baseline, len(h.sets))
	var buf []Set
	for ip, ws := range h.sets {
		buf = buf[:0]
		for _, x := range ws {
			if x.w >= from {
				buf = append(buf, x.s)
			}
		}
		excluded := 0
		for _, a := range h.alerted[ip] {
			if a >= from {
				excluded++
			}
		}
		if len(buf) > 0 {
			out[ip] = BaselineOf(buf, w-from-excluded)
		}
	}
	return out
}

func (h *history) add(w int, sets []Set, alerts []Alert) {
	for _, a := range alerts {
		if l := h.alerted[a.IP]; len(l) == 0 || l[len(l)-1] != w {
			h.alerted[a.IP] = append(l, w)
		}
	}
	for _, s := range sets {
		if l := h.alerted[s.IP]; len(l) > 0 && l[len(l)-1] == w {
			continue
		}
		s.PeerSample, s.PortSample = nil, nil
		ws := h.sets[s.IP]
		for len(ws) > 0 && ws[0].w < w+1-baselineSpan {
			ws = ws[1:]
		}
		h.sets[s.IP] = append(ws, windowSet{w, s})
	}
}

type labelKey struct {
	rule   string
	ip     netip.Addr
	window int64
}

type score struct{ tp, fp, fn int }

func (s score) precision() float64 {
	if s.tp+s.fp == 0 {
		return 1
	}
	return float64(s.tp) / float64(s.tp+s.fp)
}

func (s score) recall() float64 {
	if s.tp+s.fn == 0 {
		return 1
	}
	return float64(s.tp) / float64(s.tp+s.fn)
}

// TestCorpusPrecisionRecall runs attackgen's labelled corpus through the real aggregation (flows dealt over two
// shards, cut at checkpoints, partials merged by aggregate.Finalize) and the default rules, window by window with
// baselines from the previous windows, and holds precision and recall of every rule at 0.95 or more.
func TestCorpusPrecisionRecall(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			corpus, err := attackgen.Generate(attackgen.Config{
				Seed: seed, Start: time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC), Windows: attackgen.MinWindows,
			})
			if err != nil {
				t.Fatal(err)
			}
			// The operator allow-lists the vulnerability scanner for every rule; a detector without the allow-list
			// runs beside, to show the scanner is one by its traffic.
			cfg := DefaultConfig()
			cfg.Horizontal.Allow, cfg.Vertical.Allow = corpus.Allowed, corpus.Allowed
			cfg.RejectStorm.Allow, cfg.Egress.Allow = corpus.Allowed, corpus.Allowed
			d, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			unlisted, err := New(DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			allowedAlerts := 0
			margins := map[netip.Addr]*margin{}
			want := map[labelKey]string{}
			for _, l := range corpus.Labels {
				want[labelKey{l.Rule, l.IP, l.Window}] = l.Attack
			}
			got := map[labelKey]Alert{}
			h, flows, sets := newHistory(), 0, 0
			for w, win := range corpus.Windows {
				finals, err := attackgen.Aggregate(win.Flows, 2, 4000)
				if err != nil {
					t.Fatal(err)
				}
				flows += len(win.Flows)
				ss := make([]Set, len(finals))
				for i := range finals {
					ss[i] = SetOf(&finals[i].ConnSet, DefaultConfig().SampleSize)
				}
				sets += len(ss)
				alerts := d.Evaluate(Window{win.Start, win.Start + int64(attackgen.WindowWidth/time.Second)}, ss, h.baselines(w))
				for _, a := range alerts {
					got[labelKey{a.Rule.String(), a.IP, a.Window.Start}] = a
					_, labelled := want[labelKey{a.Rule.String(), a.IP, a.Window.Start}]
					if role, ok := corpus.Talkers[a.IP]; ok && !labelled {
						t.Errorf("window %d: the %s %v alerted: %s", w, role, a.IP, a.Reason)
					}
				}
				bs := h.baselines(w)
				for i := range ss {
					if _, ok := corpus.Talkers[ss[i].IP]; ok {
						m := margins[ss[i].IP]
						if m == nil {
							m = &margin{}
							margins[ss[i].IP] = m
						}
						m.add(cfg, &ss[i], bs[ss[i].IP])
					}
				}
				for _, a := range unlisted.Evaluate(Window{win.Start, win.Start + 600}, ss, h.baselines(w)) {
					for _, p := range corpus.Allowed {
						if p.Contains(a.IP) {
							allowedAlerts++
						}
					}
				}
				h.add(w, ss, alerts)
			}
			scores := map[string]*score{}
			for _, r := range Rules {
				scores[r.String()] = &score{}
			}
			for k, a := range got {
				if _, ok := want[k]; ok {
					scores[k.rule].tp++
				} else {
					scores[k.rule].fp++
					t.Logf("false positive: %s %v window %d: %s", k.rule, k.ip, (k.window-corpus.Windows[0].Start)/600, a.Reason)
				}
			}
			for k, attack := range want {
				if _, ok := got[k]; !ok {
					scores[k.rule].fn++
					t.Logf("missed: %s %v window %d (%s)", k.rule, k.ip, (k.window-corpus.Windows[0].Start)/600, attack)
				}
			}
			if allowedAlerts == 0 {
				t.Error("the allow-listed vulnerability scanner raised nothing even without the allow-list: the corpus does not test it")
			}
			t.Logf("without the allow-list, the vulnerability scanner raised %d alerts", allowedAlerts)
			talkers := slices.SortedFunc(maps.Keys(margins), netip.Addr.Compare)
			for _, ip := range talkers {
				if role := corpus.Talkers[ip]; role != "microservice" {
					t.Logf("%-15s %-10v %s", role, ip, margins[ip])
				}
			}
			t.Logf("corpus: %d windows, %d flows, %d connection sets, %d labels", len(corpus.Windows), flows, sets, len(want))
			for _, r := range Rules {
				s := scores[r.String()]
				t.Logf("%-16s labels %3d  alerts %3d  tp %3d fp %3d fn %3d  precision %.3f recall %.3f",
					r, s.tp+s.fn, s.tp+s.fp, s.tp, s.fp, s.fn, s.precision(), s.recall())
				if s.tp+s.fn == 0 {
					t.Errorf("%s: the corpus has no label for it", r)
				}
				if s.precision() < 0.95 || s.recall() < 0.95 {
					t.Errorf("%s: precision %.3f recall %.3f, want both at least 0.95", r, s.precision(), s.recall())
				}
			}
		})
	}
}

// A margin records how close a legitimate heavy talker came to each rule over the corpus: the largest share of its
// flows rejected and of its sent flows answered while it had MinPeers peers, its most service ports, and its largest
// rejected flows and bytes sent as a fraction of the level that would have fired.
type margin struct {
	peers, servicePorts        uint64
	rejectedShare, answered    float64
	rejectedLevel, egressLevel float64
	many                       bool // it had MinPeers peers in some window
}

func (m *margin) add(cfg Config, s *Set, b Baseline) {
	m.peers, m.servicePorts = max(m.peers, s.Peers), max(m.servicePorts, s.ServicePorts)
	if s.Peers >= cfg.Horizontal.MinPeers {
		m.rejectedShare = max(m.rejectedShare, float64(s.Rejected)/float64(s.FlowsSent+s.FlowsReceived))
		if !m.many {
			m.answered, m.many = 1, true
		}
		m.answered = min(m.answered, answered(s))
	}
	rl, el := float64(cfg.RejectStorm.NewIPMinRejected), float64(cfg.Egress.NewIPMinBytes)
	if b.Windows >= cfg.MinBaselineWindows {
		r, e := cfg.RejectStorm, cfg.Egress
		rl = max(float64(r.MinRejected), r.MinFactor*b.RejectedMean,
			b.RejectedMean+r.MinZ*max(b.RejectedStd, math.Sqrt(b.RejectedMean), 1))
		el = max(float64(e.MinBytes), e.MinFactor*b.BytesSentMean, b.BytesSentMean+e.MinZ*max(b.BytesSentStd, 1))
	}
	m.rejectedLevel = max(m.rejectedLevel, float64(s.Rejected)/rl)
	m.egressLevel = max(m.egressLevel, float64(s.BytesSent)/el)
}

func (m *margin) String() string {
	many := "never MinPeers peers"
	if m.many {
		many = fmt.Sprintf("rejected share <= %.3f, answered share >= %.2f", m.rejectedShare, m.answered)
	}
	return fmt.Sprintf("peers <= %d, service ports <= %d, %s; rejected <= %.2f and bytes sent <= %.2f of their firing levels",
		m.peers, m.servicePorts, many, m.rejectedLevel, m.egressLevel)
}
