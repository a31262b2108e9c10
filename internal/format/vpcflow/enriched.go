package vpcflow

import (
	"net/netip"
	"strconv"

	"github.com/kinflow/kinflow/internal/enrich"
	"github.com/kinflow/kinflow/internal/jsonw"
)

// addEnrichedWriters adds the writers of the enrichment rows (schema.Field.Enriched): each reads the document's
// enrichment context, and is never called without one (the program without enrichment leaves them out).
func addEnrichedWriters(w map[string]writer) {
	instance := func(get func(*enrich.Resource) string) writer {
		return function(func(dst []byte, c *docCtx) ([]byte, bool) {
			if r := c.x.Interface; r != nil && get(r) != "" {
				return jsonw.AppendString(dst, get(r)), true
			}
			return dst, false
		})
	}
	w["cloud.instance.id"] = instance(func(r *enrich.Resource) string { return r.InstanceID })
	w["cloud.instance.name"] = instance(func(r *enrich.Resource) string { return r.InstanceName })
	for _, end := range []struct {
		name string
		of   func(*enrich.Context) *enrich.End
	}{
		{"source", func(x *enrich.Context) *enrich.End { return &x.Source }},
		{"destination", func(x *enrich.Context) *enrich.End { return &x.Destination }},
	} {
		geo := func(get func(*enrich.Geo) string) writer {
			return function(func(dst []byte, c *docCtx) ([]byte, bool) {
				if g := &end.of(c.x).Geo; get(g) != "" {
					return jsonw.AppendString(dst, get(g)), true
				}
				return dst, false
			})
		}
		w[end.name+".geo.country_iso_code"] = geo(func(g *enrich.Geo) string { return g.CountryISO })
		w[end.name+".geo.country_name"] = geo(func(g *enrich.Geo) string { return g.CountryName })
		w[end.name+".geo.continent_code"] = geo(func(g *enrich.Geo) string { return g.ContinentCode })
		w[end.name+".geo.region_name"] = geo(func(g *enrich.Geo) string { return g.Region })
		w[end.name+".geo.city_name"] = geo(func(g *enrich.Geo) string { return g.City })
		w[end.name+".as.organization.name"] = geo(func(g *enrich.Geo) string { return g.ASOrg })
		w[end.name+".as.number"] = function(func(dst []byte, c *docCtx) ([]byte, bool) {
			if g := &end.of(c.x).Geo; g.ASNumber != 0 {
				return strconv.AppendUint(dst, uint64(g.ASNumber), 10), true
			}
			return dst, false
		})
		res := func(get func(*enrich.Resource) string) writer {
			return function(func(dst []byte, c *docCtx) ([]byte, bool) {
				if r := end.of(c.x).Resource; r != nil && get(r) != "" {
					return jsonw.AppendString(dst, get(r)), true
				}
				return dst, false
			})
		}
		prefix := "aws." + end.name + "."
		w[prefix+"interface.id"] = res(func(r *enrich.Resource) string { return r.InterfaceID })
		w[prefix+"interface.type"] = res(func(r *enrich.Resource) string { return r.InterfaceType })
		w[prefix+"instance.id"] = res(func(r *enrich.Resource) string { return r.InstanceID })
		w[prefix+"instance.name"] = res(func(r *enrich.Resource) string { return r.InstanceName })
		w[prefix+"subnet_id"] = res(func(r *enrich.Resource) string { return r.SubnetID })
		w[prefix+"vpc_id"] = res(func(r *enrich.Resource) string { return r.VPCID })
		w[prefix+"account_id"] = res(func(r *enrich.Resource) string { return r.AccountID })
		w[prefix+"security_groups"] = function(func(dst []byte, c *docCtx) ([]byte, bool) {
			r := end.of(c.x).Resource
			if r == nil || len(r.SecurityGroups) == 0 {
				return dst, false
			}
			return appendStrings(dst, r.SecurityGroups), true
		})
	}
	// The threat matches, one entry per matching end, in the same order in each array.
	threat := func(write func(dst []byte, field string, addr netip.Addr, in *enrich.Indicator) []byte) writer {
		return function(func(dst []byte, c *docCtx) ([]byte, bool) {
			s, d := &c.x.Source.Threat, &c.x.Destination.Threat
			if !s.Matched() && !d.Matched() {
				return dst, false
			}
			dst = append(dst, '[')
			if s.Matched() {
				dst = write(dst, "source.ip", c.f.SrcAddr.Unmap(), s)
			}
			if d.Matched() {
				if s.Matched() {
					dst = append(dst, ',')
				}
				dst = write(dst, "destination.ip", c.f.DstAddr.Unmap(), d)
			}
			return append(dst, ']'), true
		})
	}
	w["threat.enrichments.matched.field"] = threat(func(dst []byte, field string, _ netip.Addr, _ *enrich.Indicator) []byte {
		return jsonw.AppendString(dst, field)
	})
	w["threat.enrichments.matched.atomic"] = threat(func(dst []byte, _ string, addr netip.Addr, _ *enrich.Indicator) []byte {
		return appendAddr(dst, addr)
	})
	w["threat.enrichments.indicator.provider"] = threat(func(dst []byte, _ string, _ netip.Addr, in *enrich.Indicator) []byte {
		return jsonw.AppendString(dst, in.List)
	})
	w["threat.enrichments.indicator.description"] = threat(func(dst []byte, _ string, _ netip.Addr, in *enrich.Indicator) []byte {
		dst = jsonw.AppendString(dst, in.Value)
		if in.Description == "" {
			return dst
		}
		// "<value>: <description>" as one string, without building it: the closing quote goes, the description's
		// opening quote too.
		dst = append(dst[:len(dst)-1], ": "...)
		mark := len(dst)
		dst = jsonw.AppendString(dst, in.Description)
		return append(dst[:mark], dst[mark+1:]...)
	})
}

// appendStrings appends a JSON array of strings.
func appendStrings(dst []byte, ss []string) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonw.AppendString(dst, s)
	}
	return append(dst, ']')
}
