package alerts_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"

	"github.com/kinflow/kinflow/internal/alerts"
	"github.com/kinflow/kinflow/internal/detect"
)

// Summarize a host's horizontal scan over three windows, the middle one withdrawn by a correction: the alert is
// active, over two windows, with its highest score and its last active signal's reason.
func ExampleSummarize() {
	ip := netip.MustParseAddr("10.0.1.77")
	episode := detect.EpisodeID(detect.HorizontalScan, ip, 1700000400)
	signal := func(start int64, score float64, severity int, status alerts.Status) alerts.Signal {
		return alerts.Signal{Alert: detect.Alert{Rule: detect.HorizontalScan, IP: ip,
			Window: detect.Window{Start: start, End: start + 600}, Score: score, Severity: severity,
			Reason: fmt.Sprintf("10.0.1.77 reached %.0f distinct peers.", score*100)},
			Status: status, Revision: 1, Episode: episode, EpisodeStart: 1700000400}
	}
	e, err := alerts.Summarize([]alerts.Signal{
		signal(1700001600, 2.5, detect.SeverityMedium, alerts.Active),
		signal(1700000400, 1.2, detect.SeverityLow, alerts.Active),
		signal(1700001000, 12, detect.SeverityCritical, alerts.Withdrawn),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(e.Status, e.Windows, "windows from", e.First.Start, "to", e.Last.End)
	fmt.Println("score", e.MaxScore, "severity", e.Severity)
	fmt.Println(e.Latest.Reason)
	// Output:
	// active 2 windows from 1700000400 to 1700002200
	// score 2.5 severity 47
	// 10.0.1.77 reached 250 distinct peers.
}

// The webhook's body for a window's revision: one alert raised.
func ExampleWebhookBody() {
	ip := netip.MustParseAddr("198.51.100.7")
	w := detect.Window{Start: 1700000400, End: 1700001000}
	s := alerts.Signal{
		Alert: detect.Alert{Rule: detect.VerticalScan, IP: ip, Window: w, Score: 2.5,
			Severity: detect.SeverityMedium, Reason: "198.51.100.7 probed 50 service ports of one peer.",
			Evidence: detect.Evidence{Peers: 1, Ports: 50, ServicePorts: 50, FlowsSent: 50, Rejected: 48,
				PeerSample: []netip.Addr{netip.MustParseAddr("10.0.0.8")}, PortSample: []uint16{21, 22, 23}}},
		Status: alerts.Active, Revision: 1, Episode: detect.EpisodeID(detect.VerticalScan, ip, w.Start),
		EpisodeStart: w.Start,
	}
	body, err := alerts.WebhookBody(w, 1, []alerts.Signal{s})
	if err != nil {
		panic(err)
	}
	fmt.Println(alerts.WebhookKey(w.Start, 1))
	var out bytes.Buffer
	if err := json.Indent(&out, body, "", "  "); err != nil {
		panic(err)
	}
	fmt.Println(out.String())
	// Output:
	// kinflow-alerts-1700000400-r1
	// {
	//   "window": {
	//     "start": 1700000400,
	//     "end": 1700001000
	//   },
	//   "revision": 1,
	//   "alerts": [
	//     {
	//       "id": "is55FQLzsQT7e2dMMygagw",
	//       "signal": "TXb7MgoEC_SUE0SciU9RGg",
	//       "change": "raised",
	//       "rule": "vertical_scan",
	//       "technique": "T1046",
	//       "ip": "198.51.100.7",
	//       "severity": 47,
	//       "score": 2.5,
	//       "reason": "198.51.100.7 probed 50 service ports of one peer.",
	//       "episode_start": 1700000400,
	//       "evidence": {
	//         "peers": 1,
	//         "peers_estimated": false,
	//         "ports": 50,
	//         "service_ports": 50,
	//         "flows_sent": 50,
	//         "flows_received": 0,
	//         "rejected": 48,
	//         "bytes_sent": 0,
	//         "peer_sample": [
	//           "10.0.0.8"
	//         ],
	//         "port_sample": [
	//           21,
	//           22,
	//           23
	//         ]
	//       }
	//     }
	//   ]
	// }
}
