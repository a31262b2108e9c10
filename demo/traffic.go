package main

import (
	"net/netip"
	"time"

	"github.com/kinflow/kinflow/internal/testing/flowgen"
)

// demoTraffic is an hour of ordinary traffic up to now, plus the patterns a security dashboard should surface.
func demoTraffic(seed uint64, batches int, now time.Time) []flowgen.Batch {
	cfg := flowgen.DefaultConfig(now.Add(-time.Hour).Truncate(time.Second))
	cfg.Seed = seed
	g := flowgen.New(cfg)
	out := g.Batches(batches, 50, 200)
	enis := g.Interfaces()

	scanner, target := netip.MustParseAddr("198.51.100.23"), netip.MustParseAddr("10.0.0.10")
	ports := make([]int, 1024)
	for i := range ports {
		ports[i] = i + 1
	}
	out = append(out,
		g.Batch(enis[0], g.PortScan(scanner, target, ports)),
		g.Batch(enis[2], g.FanOut(netip.MustParseAddr("10.0.3.7"), 2000, 445)),
		g.Batch(enis[1], g.RejectedBurst(netip.MustParseAddr("10.0.0.22"), 22, 300)),
		// What a misconfigured custom format looks like: dead letters, and the shard moves on.
		g.Batch(enis[3], []string{
			"3 123456789012 eni-0a1b2c3d4e5f6 10.0.0.5 10.0.0.6 443 51000 6 10 840 1795440000 1795440060 ACCEPT OK vpc-1",
			"not a flow-log line at all",
		}),
	)
	return out
}
