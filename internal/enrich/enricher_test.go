package enrich

import (
	"net/netip"
	"testing"
)

// inventory is a Resources of fixed interfaces, each by address and id, one pointer per interface.
type inventory map[string]*Resource

func (inv inventory) Address(ip netip.Addr) *Resource { return inv[ip.String()] }
func (inv inventory) Interface(id string) *Resource   { return inv[id] }

func (inv inventory) add(r *Resource, addrs ...string) {
	inv[r.InterfaceID] = r
	for _, a := range addrs {
		inv[a] = r
	}
}

type geos map[string]Geo

func (g geos) Geo(ip netip.Addr) (Geo, bool) { v, ok := g[ip.String()]; return v, ok }

type lists map[string]Indicator

func (l lists) Match(ip netip.Addr) (Indicator, bool) { v, ok := l[ip.String()]; return v, ok }

func TestFillAndDuplicate(t *testing.T) {
	web := &Resource{InterfaceID: "eni-web", InstanceID: "i-web", InstanceName: "web-1", FlowLogged: true, VPCID: "vpc-1"}
	db := &Resource{InterfaceID: "eni-db", InstanceID: "i-db", InstanceName: "db-1", FlowLogged: true, VPCID: "vpc-1"}
	dark := &Resource{InterfaceID: "eni-dark", InstanceID: "i-dark", VPCID: "vpc-1"} // in a subnet no flow log covers
	peered := &Resource{InterfaceID: "eni-peer", InstanceID: "i-peer", FlowLogged: true, VPCID: "vpc-2"}
	inv := inventory{}
	inv.add(web, "10.0.1.10")
	inv.add(db, "10.0.2.20")
	inv.add(dark, "10.0.3.30")
	inv.add(peered, "10.1.0.5")
	e := New(inv, geos{"203.0.113.9": {CountryISO: "NL", ASNumber: 64500, ASOrg: "Example"}},
		lists{"203.0.113.9": {List: "blocklist", Value: "203.0.113.0/24"}})
	a := netip.MustParseAddr
	var x Context
	for _, tc := range []struct {
		name           string
		src, dst, eni  string
		empty          bool
		srcRes, dstRes *Resource
		geo, threat    bool
		duplicate      bool
	}{
		{name: "web to db, logged at web (the sender's copy)", src: "10.0.1.10", dst: "10.0.2.20", eni: "eni-web", srcRes: web, dstRes: db},
		{name: "web to db, logged at db (the receiver's copy)", src: "10.0.1.10", dst: "10.0.2.20", eni: "eni-db", srcRes: web, dstRes: db, duplicate: true},
		{name: "dark to db, logged at db: the sender logs nothing", src: "10.0.3.30", dst: "10.0.2.20", eni: "eni-db", srcRes: dark, dstRes: db},
		{name: "internet to web, logged at web", src: "203.0.113.9", dst: "10.0.1.10", eni: "eni-web", dstRes: web, geo: true, threat: true},
		{name: "web to itself", src: "10.0.1.10", dst: "10.0.1.10", eni: "eni-web", srcRes: web, dstRes: web},
		{name: "unknown addresses and interface", src: "192.0.2.1", dst: "192.0.2.2", eni: "eni-other", empty: true},
		{name: "IPv4-mapped", src: "::ffff:10.0.1.10", dst: "10.0.2.20", eni: "eni-db", srcRes: web, dstRes: db, duplicate: true},
		{name: "from a peered VPC, logged at db", src: "10.1.0.5", dst: "10.0.2.20", eni: "eni-db", srcRes: peered, dstRes: db},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := e.Fill(&x, a(tc.src), a(tc.dst), tc.eni)
			if (got == nil) != tc.empty {
				t.Fatalf("Fill = %v, want empty %v", got, tc.empty)
			}
			if got != nil && (got.Source.Resource != tc.srcRes || got.Destination.Resource != tc.dstRes ||
				got.Source.Geo.Known() != tc.geo || got.Source.Threat.Matched() != tc.threat) {
				t.Errorf("Fill = %+v", got)
			}
			if d := got.SecondCopy(false); d != tc.duplicate {
				t.Errorf("SecondCopy = %v, want %v", d, tc.duplicate)
			}
		})
	}
	// The receiver's security group refused what the sender's let out: only its record says so, and it counts.
	if e.Fill(&x, a("10.0.1.10"), a("10.0.2.20"), "eni-db").SecondCopy(true) {
		t.Error("a rejected record at the receiver was taken for a second copy")
	}
	var none *Enricher
	if none.Fill(&x, a("10.0.1.10"), a("10.0.2.20"), "eni-web").SecondCopy(false) {
		t.Error("a nil enricher enriched something")
	}
	if New(nil, nil, nil) != nil {
		t.Error("New without sources is not nil")
	}
}
