package alerts

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/kinflow/kinflow/internal/detect"
)

// Status is whether a signal or an episode stands.
type Status string

const (
	// Active: the rule fires in the window's latest revision (for an episode: in at least one of its windows).
	Active Status = "active"
	// Withdrawn: a correction of the window (a later revision) no longer fires the rule; the document stays, so that
	// a person who was paged sees why the page went away.
	Withdrawn Status = "withdrawn"
)

// Kinds of document, their event.kind.
const (
	KindSignal = "signal"
	KindAlert  = "alert"
)

// Ruleset is rule.ruleset of every document.
const Ruleset = "kinflow"

// A Signal is one rule firing on one IP in one window, as stored.
type Signal struct {
	detect.Alert
	Status   Status
	Revision int64 // the revision of the window's connection sets it was computed from
	// Episode is the id of the alert it belongs to, begun in the window starting at EpisodeStart (Unix seconds).
	Episode      string
	EpisodeStart int64
}

// Continued reports whether the signal continues an episode begun in an earlier window.
func (s *Signal) Continued() bool { return s.EpisodeStart < s.Window.Start }

// An Episode is one alert: the signals of one rule on one IP, in windows no more than the episode gap apart.
type Episode struct {
	ID           string
	Rule         detect.Rule
	IP           netip.Addr
	EpisodeStart int64
	// Status is Active while any of its signals is.
	Status Status
	// First and Last are its first and last active windows (or, withdrawn, of all its signals).
	First, Last detect.Window
	Windows     int     // active signals
	MaxScore    float64 // of the active signals
	Severity    int     // the highest of the active signals
	// Latest is the last active signal (or, withdrawn, the last one): its reason, evidence and revision are the
	// episode's.
	Latest Signal
}

// ErrNoSignals is returned by Summarize for an episode without signals.
var ErrNoSignals = errors.New("alerts: an episode needs at least one signal")

// Summarize makes the episode of its signals: those of one rule and IP that name the same episode, in any order and
// status. The result depends on the set of signals alone, so a redo writes the same episode.
func Summarize(signals []Signal) (Episode, error) {
	if len(signals) == 0 {
		return Episode{}, ErrNoSignals
	}
	sorted := slices.Clone(signals)
	slices.SortFunc(sorted, func(a, b Signal) int { return cmp.Compare(a.Window.Start, b.Window.Start) })
	head := sorted[0]
	e := Episode{ID: head.Episode, Rule: head.Rule, IP: head.IP, EpisodeStart: head.EpisodeStart, Status: Withdrawn}
	for i := range sorted {
		s := &sorted[i]
		if s.Episode != e.ID || s.Rule != e.Rule || s.IP != e.IP {
			return Episode{}, fmt.Errorf("alerts: signal %s (%v on %v, episode %s) is not of episode %s (%v on %v)",
				s.ID(), s.Rule, s.IP, s.Episode, e.ID, e.Rule, e.IP)
		}
		if s.Status != Active {
			continue
		}
		if e.Status != Active {
			e.Status, e.First = Active, s.Window
		}
		e.Last, e.Latest = s.Window, *s
		e.Windows++
		e.MaxScore = max(e.MaxScore, s.Score)
		e.Severity = max(e.Severity, s.Severity)
	}
	if e.Status == Withdrawn {
		last := sorted[len(sorted)-1]
		e.First, e.Last, e.Latest, e.MaxScore, e.Severity = sorted[0].Window, last.Window, last, last.Score, last.Severity
	}
	return e, nil
}

// The document, nested as schema.Alerts has it. Dates are RFC 3339 in UTC.
type document struct {
	Timestamp string   `json:"@timestamp"`
	Event     event    `json:"event"`
	Rule      rule     `json:"rule"`
	Threat    *threat  `json:"threat,omitempty"`
	Source    ipOnly   `json:"source"`
	Related   related  `json:"related"`
	Window    window   `json:"window"`
	Alert     alertDoc `json:"alert"`
}

type event struct {
	Kind     string   `json:"kind"`
	Category []string `json:"category"`
	Severity int      `json:"severity"`
	Reason   string   `json:"reason"`
}

type rule struct {
	Name    string `json:"name"`
	Ruleset string `json:"ruleset"`
}

type threat struct {
	Framework string    `json:"framework"`
	Technique technique `json:"technique"`
	Tactic    tactic    `json:"tactic"`
}

type technique struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Reference string `json:"reference"`
}

type tactic struct {
	Name string `json:"name"`
}

type ipOnly struct {
	IP string `json:"ip"`
}

type related struct {
	IP []string `json:"ip"`
}

type window struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type alertDoc struct {
	Status       Status    `json:"status"`
	Episode      string    `json:"episode"`
	EpisodeStart string    `json:"episode_start"`
	Continued    bool      `json:"continued"`
	Windows      int       `json:"windows"`
	Revision     int64     `json:"revision"`
	Score        float64   `json:"score"`
	Evidence     evidence  `json:"evidence"`
	Baseline     *baseline `json:"baseline,omitempty"`
}

type evidence struct {
	Peers          uint64   `json:"peers"`
	PeersEstimated bool     `json:"peers_estimated"`
	Ports          uint64   `json:"ports"`
	ServicePorts   uint64   `json:"service_ports"`
	FlowsSent      uint64   `json:"flows_sent"`
	FlowsReceived  uint64   `json:"flows_received"`
	Rejected       uint64   `json:"rejected"`
	BytesSent      uint64   `json:"bytes_sent"`
	PeerSample     []string `json:"peer_sample,omitempty"`
	PortSample     []uint16 `json:"port_sample,omitempty"`
}

type baseline struct {
	Windows       int     `json:"windows"`
	RejectedMean  float64 `json:"rejected_mean"`
	RejectedStd   float64 `json:"rejected_std"`
	BytesSentMean float64 `json:"bytes_sent_mean"`
	BytesSentStd  float64 `json:"bytes_sent_std"`
}

func date(sec int64) string { return time.Unix(sec, 0).UTC().Format(time.RFC3339) }

func parseDate(field, s string) (int64, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, fmt.Errorf("%s %q: %w", field, s, err)
	}
	// An offset can move a date of year 0 or 9999 out of the years RFC 3339 writes in UTC: date could not write it back.
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return 0, fmt.Errorf("%s %q: year %d in UTC, want 0 to 9999", field, s, y)
	}
	return t.Unix(), nil
}

// documentOf lays out a signal's fields; the episode's writer overrides what differs.
func documentOf(s *Signal, kind string) document {
	e := &s.Evidence
	d := document{
		Timestamp: date(s.Window.End),
		Event:     event{Kind: kind, Category: []string{"network", "intrusion_detection"}, Severity: s.Severity, Reason: s.Reason},
		Rule:      rule{Name: s.Rule.String(), Ruleset: Ruleset},
		Source:    ipOnly{IP: s.IP.String()},
		Related:   related{IP: []string{s.IP.String()}},
		Window:    window{Start: date(s.Window.Start), End: date(s.Window.End)},
		Alert: alertDoc{Status: s.Status, Episode: s.Episode, EpisodeStart: date(s.EpisodeStart), Continued: s.Continued(),
			Windows: 1, Revision: s.Revision, Score: s.Score,
			Evidence: evidence{Peers: e.Peers, PeersEstimated: e.PeersEstimated, Ports: e.Ports, ServicePorts: e.ServicePorts,
				FlowsSent: e.FlowsSent, FlowsReceived: e.FlowsReceived, Rejected: e.Rejected, BytesSent: e.BytesSent,
				PortSample: e.PortSample}},
	}
	if id := s.Rule.Technique(); id != "" {
		d.Threat = &threat{Framework: "MITRE ATT&CK", Technique: technique{ID: id, Name: s.Rule.TechniqueName(),
			Reference: "https://attack.mitre.org/techniques/" + id + "/"}, Tactic: tactic{Name: s.Rule.Tactic()}}
	}
	for _, p := range e.PeerSample {
		d.Alert.Evidence.PeerSample = append(d.Alert.Evidence.PeerSample, p.String())
		if p != s.IP {
			d.Related.IP = append(d.Related.IP, p.String())
		}
	}
	if b := e.Baseline; b != nil {
		d.Alert.Baseline = &baseline{Windows: b.Windows, RejectedMean: b.RejectedMean, RejectedStd: b.RejectedStd,
			BytesSentMean: b.BytesSentMean, BytesSentStd: b.BytesSentStd}
	}
	return d
}

// SignalJSON is the signal's document.
func SignalJSON(s *Signal) ([]byte, error) { return json.Marshal(documentOf(s, KindSignal)) }

// EpisodeJSON is the episode's document: its latest signal's evidence and reason under the episode's id, windows,
// status, highest score and severity.
func EpisodeJSON(e *Episode) ([]byte, error) {
	d := documentOf(&e.Latest, KindAlert)
	d.Timestamp = date(e.Last.End)
	d.Window = window{Start: date(e.First.Start), End: date(e.Last.End)}
	d.Event.Severity = e.Severity
	d.Alert.Status, d.Alert.Episode, d.Alert.EpisodeStart = e.Status, e.ID, date(e.EpisodeStart)
	d.Alert.Windows, d.Alert.Continued, d.Alert.Score = e.Windows, e.Windows > 1, e.MaxScore
	return json.Marshal(d)
}

// ErrDecode is wrapped by DecodeSignal's errors: a document kinflow did not write, or a bug.
var ErrDecode = errors.New("alerts: decoding a signal")

// DecodeSignal reads back a document SignalJSON wrote.
func DecodeSignal(src []byte) (Signal, error) {
	var d document
	if err := json.Unmarshal(src, &d); err != nil {
		return Signal{}, fmt.Errorf("%w: %w", ErrDecode, err)
	}
	if d.Event.Kind != KindSignal {
		return Signal{}, fmt.Errorf("%w: event.kind %q, want %q", ErrDecode, d.Event.Kind, KindSignal)
	}
	r, ok := detect.ParseRule(d.Rule.Name)
	if !ok {
		return Signal{}, fmt.Errorf("%w: rule.name %q: no such rule", ErrDecode, d.Rule.Name)
	}
	ip, err := netip.ParseAddr(d.Source.IP)
	if err != nil {
		return Signal{}, fmt.Errorf("%w: source.ip: %w", ErrDecode, err)
	}
	var errs []error
	at := func(field, v string) int64 {
		sec, err := parseDate(field, v)
		errs = append(errs, err)
		return sec
	}
	s := Signal{Status: d.Alert.Status, Revision: d.Alert.Revision, Episode: d.Alert.Episode,
		EpisodeStart: at("alert.episode_start", d.Alert.EpisodeStart)}
	e := d.Alert.Evidence
	s.Alert = detect.Alert{Rule: r, IP: ip,
		Window: detect.Window{Start: at("window.start", d.Window.Start), End: at("window.end", d.Window.End)},
		Score:  d.Alert.Score, Severity: d.Event.Severity, Reason: d.Event.Reason,
		Evidence: detect.Evidence{Peers: e.Peers, PeersEstimated: e.PeersEstimated, Ports: e.Ports,
			ServicePorts: e.ServicePorts, FlowsSent: e.FlowsSent, FlowsReceived: e.FlowsReceived, Rejected: e.Rejected,
			BytesSent: e.BytesSent}}
	if len(e.PortSample) > 0 { // an empty sample is left out, as SignalJSON leaves it out: nil, like the peer sample
		s.Evidence.PortSample = e.PortSample
	}
	for _, p := range e.PeerSample {
		a, err := netip.ParseAddr(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("alert.evidence.peer_sample: %w", err))
		}
		s.Evidence.PeerSample = append(s.Evidence.PeerSample, a)
	}
	if b := d.Alert.Baseline; b != nil {
		s.Evidence.Baseline = &detect.Baseline{Windows: b.Windows, RejectedMean: b.RejectedMean, RejectedStd: b.RejectedStd,
			BytesSentMean: b.BytesSentMean, BytesSentStd: b.BytesSentStd}
	}
	if s.Status != Active && s.Status != Withdrawn {
		errs = append(errs, fmt.Errorf("alert.status %q: want %q or %q", s.Status, Active, Withdrawn))
	}
	if err := errors.Join(errs...); err != nil {
		return Signal{}, fmt.Errorf("%w: %w", ErrDecode, err)
	}
	return s, nil
}
