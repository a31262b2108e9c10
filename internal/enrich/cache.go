package enrich

import (
	"math/bits"
	"net/netip"
)

// Versioned is a source that says when what it answers changed (a refresh, a reload): a Cache of its answers is
// dropped then. A source that is not Versioned is never cached.
type Versioned interface {
	Version() uint64
}

// cacheSlots is the size of a Cache: the addresses a shard sees in a few seconds repeat (the same hosts talk all
// the time), and 4,096 slots of about 200 bytes are 800 KiB per shard.
const cacheSlots = 1 << 12

// A Cache answers the ends of recent addresses from memory, in front of an Enricher's sources: one per goroutine
// that enriches (a shard, an object reader), as it is not safe for concurrent use. It is dropped whole when a
// source's Version changes, so a refreshed inventory or a reloaded list is seen from the next flow on.
type Cache struct {
	e        *Enricher
	versions []Versioned // the sources, when every one is Versioned; else none, and nothing is cached
	version  uint64      // their versions summed when the slots were filled
	slots    []cacheSlot // nil: nothing is cached
	// hits and misses count the ends answered from the slots and from the sources.
	hits, misses uint64
}

// HitRate is the share of ends answered from the cache so far.
func (c *Cache) HitRate() float64 {
	if c == nil || c.hits+c.misses == 0 {
		return 0
	}
	return float64(c.hits) / float64(c.hits+c.misses)
}

type cacheSlot struct {
	ip  netip.Addr // the zero Addr: empty
	end End
}

// NewCache returns a cache in front of e; nil (which enriches nothing) for a nil e.
func (e *Enricher) NewCache() *Cache {
	if e == nil {
		return nil
	}
	c := &Cache{e: e}
	for _, s := range []any{e.res, e.geo, e.threat} {
		if s == nil {
			continue
		}
		v, ok := s.(Versioned)
		if !ok {
			return c
		}
		c.versions = append(c.versions, v)
	}
	c.slots = make([]cacheSlot, cacheSlots)
	c.version = c.sourcesVersion()
	return c
}

// sourcesVersion sums the sources' versions; each only grows, so the sum changes when any does.
func (c *Cache) sourcesVersion() uint64 {
	var v uint64
	for _, s := range c.versions {
		v += s.Version()
	}
	return v
}

// Fill is Enricher.Fill, answering each end from the cache when it can.
func (c *Cache) Fill(x *Context, src, dst netip.Addr, eni string) *Context {
	if c == nil {
		return nil
	}
	if c.slots == nil {
		return c.e.Fill(x, src, dst, eni)
	}
	if v := c.sourcesVersion(); v != c.version {
		clear(c.slots)
		c.version = v
	}
	*x = Context{}
	c.end(&x.Source, src)
	c.end(&x.Destination, dst)
	c.e.logger(x, eni)
	if x.Empty() {
		return nil
	}
	return x
}

func (c *Cache) end(end *End, ip netip.Addr) {
	if !ip.IsValid() {
		return
	}
	ip = ip.Unmap()
	s := &c.slots[slotOf(ip)]
	if s.ip != ip {
		s.ip, s.end = ip, End{}
		c.e.end(&s.end, ip)
		c.misses++
	} else {
		c.hits++
	}
	*end = s.end
}

// slotOf spreads addresses over the slots: the low bits of a multiplicative hash of the address's last 8 bytes
// (an IPv4 address's 4, mapped), where addresses of one network differ.
func slotOf(ip netip.Addr) uint64 {
	b := ip.As16()
	var lo uint64
	for _, x := range b[8:] {
		lo = lo<<8 | uint64(x)
	}
	return (lo * 0x9e3779b97f4a7c15) >> (64 - bits.TrailingZeros(cacheSlots))
}
