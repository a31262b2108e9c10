package threat

import (
	"net/netip"

	"github.com/kinflow/kinflow/internal/enrich"
)

// Enrichment is r as the enricher's source of threat matches (enrich.Threats).
func (r *Reloader) Enrichment() enrich.Threats { return threats{r} }

type threats struct{ r *Reloader }

// Version changes whenever the set does.
func (t threats) Version() uint64 { return t.r.swaps.Load() }

func (t threats) Match(ip netip.Addr) (enrich.Indicator, bool) {
	in, ok := t.r.Match(ip)
	if !ok {
		return enrich.Indicator{}, false
	}
	return enrich.Indicator{List: in.List, Value: in.Value, Description: in.Description}, true
}
