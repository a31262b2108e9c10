package enrich

import "net/netip"

// Resources answers which resource of the user's VPCs an address or an interface is (awsres).
type Resources interface {
	Address(ip netip.Addr) *Resource
	Interface(id string) *Resource
}

// Geos answers where a public address is (geoip).
type Geos interface {
	Geo(ip netip.Addr) (Geo, bool)
}

// Threats answers whether an address is on a threat list (threat).
type Threats interface {
	Match(ip netip.Addr) (Indicator, bool)
}

// An Enricher joins the sources configured; any may be nil. Lookups are in memory (each source refreshes itself
// in the background), so enriching never waits on I/O. It is safe for concurrent use.
type Enricher struct {
	res    Resources
	geo    Geos
	threat Threats
}

// New returns an enricher of the sources given, or nil when there is none: a nil *Enricher enriches nothing.
func New(res Resources, geo Geos, threat Threats) *Enricher {
	if res == nil && geo == nil && threat == nil {
		return nil
	}
	return &Enricher{res: res, geo: geo, threat: threat}
}

// Fill writes into x what the sources know of a flow from src to dst logged by the interface eni, and returns x,
// or nil when they know nothing (the document is then written as without enrichment).
func (e *Enricher) Fill(x *Context, src, dst netip.Addr, eni string) *Context {
	if e == nil {
		return nil
	}
	*x = Context{}
	e.end(&x.Source, src)
	e.end(&x.Destination, dst)
	e.logger(x, eni)
	if x.Empty() {
		return nil
	}
	return x
}

// logger sets the resource of the logging interface eni: almost always one of the ends, whose resources answer
// without a second lookup.
func (e *Enricher) logger(x *Context, eni string) {
	if e.res == nil || eni == "" {
		return
	}
	switch {
	case x.Source.Resource != nil && x.Source.Resource.InterfaceID == eni:
		x.Interface = x.Source.Resource
	case x.Destination.Resource != nil && x.Destination.Resource.InterfaceID == eni:
		x.Interface = x.Destination.Resource
	default:
		x.Interface = e.res.Interface(eni)
	}
}

func (e *Enricher) end(end *End, ip netip.Addr) {
	if !ip.IsValid() {
		return
	}
	ip = ip.Unmap()
	if e.res != nil {
		end.Resource = e.res.Address(ip)
	}
	if e.geo != nil {
		end.Geo, _ = e.geo.Geo(ip)
	}
	if e.threat != nil {
		end.Threat, _ = e.threat.Match(ip)
	}
}

// SecondCopy reports whether the flow x describes is the second copy of a connection between two interfaces of one
// VPC that are both flow-logged: the receiving interface's record of an accepted flow, when the sending interface
// (whose record counts) logs it too. Connection sets count such a flow once, from the sender's record; the flow's
// document is kept either way. A rejected record is never a second copy: the receiver's security group may refuse
// what the sender's let out, and only the receiver's record says so. Interfaces of different VPCs are not matched
// either (private ranges overlap between VPCs and accounts). It reads what Fill found, so it costs no lookup;
// false for a nil x.
func (x *Context) SecondCopy(rejected bool) bool {
	if x == nil || rejected {
		return false
	}
	s, d, logger := x.Source.Resource, x.Destination.Resource, x.Interface
	return logger != nil && s != nil && d != nil && d == logger && s != logger && s.FlowLogged && s.VPCID == d.VPCID
}
