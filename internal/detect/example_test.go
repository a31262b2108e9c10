package detect_test

import (
	"fmt"
	"net/netip"

	"github.com/kinflow/kinflow/internal/detect"
)

// Evaluate one closed window: a sweep of a /24 from a host with a quiet past, beside a NAT gateway that talks to
// thousands of peers and raises nothing.
func ExampleDetector_Evaluate() {
	d, err := detect.New(detect.DefaultConfig())
	if err != nil {
		panic(err)
	}
	scanner, nat := netip.MustParseAddr("10.0.1.77"), netip.MustParseAddr("10.0.0.5")
	sets := []detect.Set{
		{IP: scanner, Peers: 254, ServicePorts: 1, FlowsSent: 254, FlowsReceived: 20, Rejected: 230},
		{IP: nat, Peers: 2500, ServicePorts: 2, FlowsSent: 40_000, FlowsReceived: 40_000, Rejected: 30, BytesSent: 8 << 30},
	}
	quiet := detect.BaselineOf([]detect.Set{{Rejected: 1}, {Rejected: 0}}, 36)
	baselines := map[netip.Addr]detect.Baseline{scanner: quiet}
	for _, a := range d.Evaluate(detect.Window{Start: 1795435200, End: 1795435800}, sets, baselines) {
		fmt.Printf("%v technique=%q severity=%d: %s\n", a.Rule, a.Rule.Technique(), a.Severity, a.Reason)
	}
	// Output:
	// horizontal_scan technique="T1046" severity=47: 10.0.1.77 reached 254 distinct peers, and 230 of its 274 flows were rejected.
	// reject_storm technique="" severity=47: 10.0.1.77 had 230 rejected flows, against a mean of 0.0 (deviation 0.2) over its previous 36 windows.
}
