package sink

import "time"

// Indices computes index names from a prefix; daily indices are named by the UTC date of the event time.
type Indices struct{ Prefix string }

// DefaultPrefix is the index prefix when none is configured.
const DefaultPrefix = "kinflow"

const dayLayout = "2006.01.02"

// Flows returns the raw flow index for a flow that started at t: <prefix>-flows-YYYY.MM.DD.
func (ix Indices) Flows(t time.Time) string { return ix.daily("-flows-", t) }

// ConnsPartial returns the partial rollup index for a window that starts at t.
func (ix Indices) ConnsPartial(t time.Time) string { return ix.daily("-conns-partial-", t) }

// Conns returns the final rollup index for a window that starts at t.
func (ix Indices) Conns(t time.Time) string { return ix.daily("-conns-", t) }

// Alerts returns the alerts index for a window that starts at t: <prefix>-alerts-YYYY.MM.DD.
func (ix Indices) Alerts(t time.Time) string { return ix.daily("-alerts-", t) }

// LoadBalancers returns the load-balancer access-log index for a request at t: <prefix>-lb-YYYY.MM.DD.
func (ix Indices) LoadBalancers(t time.Time) string { return ix.daily("-lb-", t) }

// DeadLetter returns the dead-letter index: one index, not daily, because dead letters are few and read by hand.
func (ix Indices) DeadLetter() string { return ix.prefix() + "-deadletter" }

func (ix Indices) prefix() string {
	if ix.Prefix == "" {
		return DefaultPrefix
	}
	return ix.Prefix
}

func (ix Indices) daily(kind string, t time.Time) string {
	p := ix.prefix()
	b := make([]byte, 0, len(p)+len(kind)+len(dayLayout))
	b = append(b, p...)
	b = append(b, kind...)
	b = t.UTC().AppendFormat(b, dayLayout)
	return string(b)
}

// family strips a daily index's date suffix, so metrics carry one label value per kind of index, not one per day.
func family(index string) string {
	const n = len("-2006.01.02")
	if len(index) > n && index[len(index)-n] == '-' && index[len(index)-3] == '.' && index[len(index)-6] == '.' {
		return index[:len(index)-n]
	}
	return index
}
