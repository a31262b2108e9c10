package geoip

import (
	"net/netip"

	"github.com/kinflow/kinflow/internal/enrich"
)

// Enrichment is db as the enricher's source of places (enrich.Geos).
func (db *DB) Enrichment() enrich.Geos { return geos{db} }

type geos struct{ db *DB }

// Version changes whenever a database is swapped.
func (g geos) Version() uint64 {
	var v uint64
	for _, s := range []*Source{g.db.city, g.db.asn} {
		if s != nil {
			v += s.swaps.Load()
		}
	}
	return v
}

func (g geos) Geo(ip netip.Addr) (enrich.Geo, bool) {
	in, ok := g.db.Lookup(ip)
	if !ok {
		return enrich.Geo{}, false
	}
	return enrich.Geo{CountryISO: in.CountryISO, CountryName: in.CountryName, ContinentCode: in.ContinentCode,
		Region: in.Region, City: in.City, ASNumber: in.ASNumber, ASOrg: in.ASOrg}, true
}
