// Package enrich owns what kinflow adds to a flow beyond its line: which AWS resource each address and the logging
// interface are, where a public address is (country, network owner), and whether an address is on a threat list.
// This file holds the context a document is written with (plain, immutable values the sources share between
// flows, so that enriching a flow copies pointers, never strings); the sources live in its subpackages (awsres,
// geoip, threat) and Enricher joins them.
package enrich

// Geo is where a public address is: its country, region and city, and the network (AS) that announces it.
type Geo struct {
	CountryISO, CountryName, ContinentCode, Region, City string
	ASNumber                                             uint32 // 0: unknown
	ASOrg                                                string
}

// Resource is the AWS resource behind an address or an interface of the user's VPCs.
type Resource struct {
	InterfaceID, InterfaceType, Description string
	InstanceID, InstanceName                string
	SecurityGroups                          []string
	SubnetID, VPCID, AccountID, Region      string
	// FlowLogged: a flow log covers the interface (its own, its subnet's or its VPC's), so its side of a connection
	// is logged too. A connection between two such interfaces is logged twice; Enricher.Duplicate tells which copy.
	FlowLogged bool
}

// Indicator is the threat-list entry an address matched.
type Indicator struct {
	List, Value, Description string
}

// End is what is known of one end of a flow; the zero value for what is not. Geo and Threat are values (a few
// strings, copied without allocating), Resource a pointer into the inventory's snapshot.
type End struct {
	Geo      Geo       // zero: not a public address, or none of the databases knows it
	Resource *Resource // nil: not an address of the user's VPCs
	Threat   Indicator // zero: on no list
}

// Known reports whether g holds anything.
func (g *Geo) Known() bool { return g.CountryISO != "" || g.ASNumber != 0 || g.City != "" }

// Matched reports whether the address is on a list.
func (i *Indicator) Matched() bool { return i.List != "" }

func (e *End) empty() bool { return !e.Geo.Known() && e.Resource == nil && !e.Threat.Matched() }

// Context is what a flow's document is enriched with: each end, and the interface whose log the flow came from.
type Context struct {
	Source, Destination End
	Interface           *Resource
}

// Empty reports whether nothing is known: the document is written as without enrichment.
func (c *Context) Empty() bool {
	return c == nil || c.Source.empty() && c.Destination.empty() && c.Interface == nil
}
