package detect

import (
	"net/netip"

	"github.com/kinflow/kinflow/internal/docid"
)

// ID is the id of the signal a (the rule firing on its IP in its window): SignalID of its rule, IP and window.
func (a Alert) ID() string { return SignalID(a.Rule, a.IP, a.Window.Start) }

// SignalID is the document id of rule r firing on ip in the window starting at start (Unix seconds), deterministic
// from the three (docid.Signal).
func SignalID(r Rule, ip netip.Addr, start int64) string { return docid.Signal(r.String(), ip, start) }

// EpisodeID is the document id of the alert (the episode) of rule r on ip that began in the window starting at
// start (docid.Episode).
func EpisodeID(r Rule, ip netip.Addr, start int64) string {
	return docid.Episode(r.String(), ip, start)
}
