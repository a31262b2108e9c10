package alerts

import (
	"cmp"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/kinflow/kinflow/internal/detect"
)

// A Change is what a window revision did to an alert, as the webhook reports it.
type Change string

const (
	ChangeRaised    Change = "raised"    // the window begins the alert
	ChangeContinued Change = "continued" // the window continues an alert raised in an earlier one
	ChangeWithdrawn Change = "withdrawn" // a correction of the window withdrew its signal
)

// ChangeOf is what s, one of the signals of a window's revision, did to its alert.
func ChangeOf(s *Signal) Change {
	switch {
	case s.Status == Withdrawn:
		return ChangeWithdrawn
	case s.Continued():
		return ChangeContinued
	}
	return ChangeRaised
}

// WebhookKey is the idempotency key of a window revision's alerts, e.g. "kinflow-alerts-1700000400-r2": a redo
// sends the same key with the same body.
func WebhookKey(windowStart, revision int64) string {
	return "kinflow-alerts-" + strconv.FormatInt(windowStart, 10) + "-r" + strconv.FormatInt(revision, 10)
}

type webhookBody struct {
	Window   webhookWindow  `json:"window"`
	Revision int64          `json:"revision"`
	Alerts   []webhookAlert `json:"alerts"`
}

type webhookWindow struct {
	Start int64 `json:"start"`
	End   int64 `json:"end"`
}

type webhookAlert struct {
	ID           string    `json:"id"`
	Signal       string    `json:"signal"`
	Change       Change    `json:"change"`
	Rule         string    `json:"rule"`
	Technique    string    `json:"technique,omitempty"`
	IP           string    `json:"ip"`
	Severity     int       `json:"severity"`
	Score        float64   `json:"score"`
	Reason       string    `json:"reason"`
	EpisodeStart int64     `json:"episode_start"`
	Evidence     evidence  `json:"evidence"`
	Baseline     *baseline `json:"baseline,omitempty"`
}

// WebhookBody is the alerts webhook's body for the signals of one window revision (active and withdrawn), in IP
// then rule order whatever the order given, so that a redo sends the same bytes:
//
//	{"window":{"start":1700000400,"end":1700001000},"revision":1,
//	 "alerts":[{"id":"<alert id>","signal":"<signal id>","change":"raised","rule":"horizontal_scan","technique":"T1046",
//	            "ip":"198.51.100.7","severity":73,"score":2.54,"reason":"...","episode_start":1700000400,
//	            "evidence":{"peers":254,...}}]}
func WebhookBody(w detect.Window, revision int64, signals []Signal) ([]byte, error) {
	sorted := slices.Clone(signals)
	slices.SortFunc(sorted, func(a, b Signal) int { return cmp.Or(a.IP.Compare(b.IP), cmp.Compare(a.Rule, b.Rule)) })
	body := webhookBody{Window: webhookWindow{w.Start, w.End}, Revision: revision, Alerts: make([]webhookAlert, len(sorted))}
	for i := range sorted {
		s := &sorted[i]
		d := documentOf(s, KindSignal)
		body.Alerts[i] = webhookAlert{ID: s.Episode, Signal: s.ID(), Change: ChangeOf(s), Rule: s.Rule.String(),
			Technique: s.Rule.Technique(), IP: s.IP.String(), Severity: s.Severity, Score: s.Score, Reason: s.Reason,
			EpisodeStart: s.EpisodeStart, Evidence: d.Alert.Evidence, Baseline: d.Alert.Baseline}
	}
	return json.Marshal(body)
}
