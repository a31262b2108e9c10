package pipeline

import "time"

// dailyIndex names the daily indices of one family (flows, load balancers) by the time of their documents,
// computing each day's name once: a document's index then costs no allocation.
type dailyIndex struct {
	name  func(time.Time) string // sink.Indices.Flows or LoadBalancers
	byDay map[int64]string
}

func newDailyIndex(name func(time.Time) string) dailyIndex {
	return dailyIndex{name: name, byDay: map[int64]string{}}
}

// at returns the index of a document of Unix second sec.
func (d *dailyIndex) at(sec int64) string {
	day := sec / 86400
	if sec%86400 < 0 {
		day-- // the day before the epoch, not the epoch's
	}
	if name, ok := d.byDay[day]; ok {
		return name
	}
	if len(d.byDay) >= 64 { // bounded: a stream of wild timestamps must not grow it
		clear(d.byDay)
	}
	name := d.name(time.Unix(sec, 0))
	d.byDay[day] = name
	return name
}
