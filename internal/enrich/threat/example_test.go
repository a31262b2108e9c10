package threat_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/kinflow/kinflow/internal/enrich/threat"
)

// Two lists that overlap: the most specific indicator wins, and IPv4-mapped addresses match IPv4 indicators.
func ExampleSet_Match() {
	drop, err := threat.ParseList("spamhaus-drop", []byte("; Spamhaus DROP\n10.1.0.0/16 ; SBL123\n"), threat.FormatAuto)
	if err != nil {
		panic(err)
	}
	intel, err := threat.ParseList("intel", []byte("indicator,description,confidence\n10.1.2.3,beacon,90\nbad line,x,1\n"), threat.FormatAuto)
	if err != nil {
		panic(err)
	}
	for _, bad := range intel.Bad {
		fmt.Println("skipped", bad.Line, bad.Reason)
	}
	set, err := threat.NewSet(drop, intel)
	if err != nil {
		panic(err)
	}
	for _, ip := range []string{"10.1.2.3", "::ffff:10.1.9.9", "192.0.2.1"} {
		if ind, ok := set.Match(netip.MustParseAddr(ip)); ok {
			fmt.Println(ip, "->", ind.List, ind.Value, ind.Description)
		} else {
			fmt.Println(ip, "-> no match")
		}
	}
	// Output:
	// skipped 3 bad_address
	// 10.1.2.3 -> intel 10.1.2.3 beacon
	// ::ffff:10.1.9.9 -> spamhaus-drop 10.1.0.0/16 SBL123
	// 192.0.2.1 -> no match
}

// A Reloader over a loader (here in memory; in production an S3 GetObject the caller wraps): load once at start-up
// to fail fast, then Run keeps the lists current while flows are matched against Match.
func ExampleReloader() {
	cfg := threat.DefaultConfig()
	cfg.Sources = []threat.Source{{
		Name: "feodo",
		Load: func(ctx context.Context) ([]byte, string, error) {
			return []byte("dst_ip,malware\n192.0.2.10,Emotet\n"), "etag-1", nil
		},
	}}
	r, err := threat.NewReloader(cfg, threat.Options{})
	if err != nil {
		panic(err)
	}
	if _, err := r.Reload(context.Background()); err != nil {
		panic(err)
	}
	// go r.Run(ctx)
	src, dst := netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("192.0.2.10")
	for _, ip := range []netip.Addr{src, dst} {
		if ind, ok := r.Match(ip); ok {
			fmt.Println(ip, ind.List, ind.Description)
		}
	}
	// Output:
	// 192.0.2.10 feodo Emotet
}
