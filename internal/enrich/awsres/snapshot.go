package awsres

import (
	"net/netip"
	"time"
)

// Inventory answers which resource an address or an interface is. Snapshot and Refresher implement it; the
// enrichment step depends on it, not on them.
type Inventory interface {
	Lookup(ip netip.Addr) (*Resource, bool)
	Interface(eniID string) (*Resource, bool)
}

var (
	_ Inventory = (*Snapshot)(nil)
	_ Inventory = (*Refresher)(nil)
)

// A Snapshot is the inventory at one moment: immutable, so any number of goroutines read it without locks.
type Snapshot struct {
	byAddr map[netip.Addr]*Resource
	byENI  map[string]*Resource
	// shared holds the addresses more than one interface has, every holder in target order: the same private
	// range in two VPCs or two accounts. Lookup answers the first; LookupVPC picks by VPC.
	shared map[netip.Addr][]*Resource
	stats  Stats
}

// Stats describe a snapshot.
type Stats struct {
	Interfaces int
	Addresses  int // distinct addresses indexed
	// SharedAddresses is the number of addresses more than one interface holds (overlapping VPC ranges).
	SharedAddresses int
	// Dropped counts the interfaces left out by Config.MaxInterfaces; it is a lower bound, because a target's
	// listing stops at the bound instead of counting what lies beyond it.
	Dropped int
	Built   time.Time // when the snapshot was assembled; the zero time for the empty one
}

var emptySnapshot = &Snapshot{byAddr: map[netip.Addr]*Resource{}, byENI: map[string]*Resource{}}

// Lookup returns the interface that has ip, as a private IPv4 or IPv6 address or as an associated public IPv4
// address. An IPv4-mapped IPv6 address is looked up as the IPv4 address it maps. When several interfaces have ip
// (overlapping VPC ranges) it returns the first in target order; LookupVPC chooses by VPC.
func (s *Snapshot) Lookup(ip netip.Addr) (*Resource, bool) {
	r, ok := s.byAddr[canonical(ip)]
	return r, ok
}

// LookupVPC is Lookup preferring the interface in vpcID when several have ip; with one holder it answers that one,
// whatever its VPC (a public address, a peered VPC).
func (s *Snapshot) LookupVPC(ip netip.Addr, vpcID string) (*Resource, bool) {
	ip = canonical(ip)
	if len(s.shared) != 0 {
		for _, r := range s.shared[ip] {
			if r.VPCID == vpcID {
				return r, true
			}
		}
	}
	r, ok := s.byAddr[ip]
	return r, ok
}

// Interface returns the interface with id eniID.
func (s *Snapshot) Interface(eniID string) (*Resource, bool) {
	r, ok := s.byENI[eniID]
	return r, ok
}

// Stats describes the snapshot.
func (s *Snapshot) Stats() Stats { return s.stats }

// Range calls f for every interface, in no particular order, until f returns false.
func (s *Snapshot) Range(f func(*Resource) bool) {
	for _, r := range s.byENI {
		if !f(r) {
			return
		}
	}
}

// canonical is the form of an address in the index: IPv4 as 4 bytes, no IPv6 zone. Neither step allocates.
func canonical(ip netip.Addr) netip.Addr {
	if ip.Is4() {
		return ip
	}
	return ip.Unmap().WithZone("")
}

// assemble merges the targets' parts, in target order, into a snapshot of at most max interfaces. A nil part (a
// target never refreshed successfully) adds nothing. An interface two targets list (two roles into one account)
// is kept once.
func assemble(parts []*part, max int, now time.Time) *Snapshot {
	n, dropped := 0, 0
	for _, p := range parts {
		if p != nil {
			n += len(p.resources)
			dropped += p.dropped
		}
	}
	kept := min(n, max)
	s := &Snapshot{
		byAddr: make(map[netip.Addr]*Resource, kept*2),
		byENI:  make(map[string]*Resource, kept),
	}
	for _, p := range parts {
		if p == nil {
			continue
		}
		for _, r := range p.resources {
			if len(s.byENI) == max {
				dropped++
				continue
			}
			if _, dup := s.byENI[r.ENI]; dup {
				continue
			}
			s.byENI[r.ENI] = r
			s.index(r, r.PrivateIPs)
			s.index(r, r.IPv6)
			s.index(r, r.PublicIPs)
		}
	}
	s.stats = Stats{Interfaces: len(s.byENI), Addresses: len(s.byAddr), SharedAddresses: len(s.shared),
		Dropped: dropped, Built: now}
	return s
}

func (s *Snapshot) index(r *Resource, addrs []netip.Addr) {
	for _, a := range addrs {
		first, taken := s.byAddr[a]
		if !taken {
			s.byAddr[a] = r
			continue
		}
		if s.shared == nil {
			s.shared = map[netip.Addr][]*Resource{}
		}
		if len(s.shared[a]) == 0 {
			s.shared[a] = append(s.shared[a], first)
		}
		s.shared[a] = append(s.shared[a], r)
	}
}
