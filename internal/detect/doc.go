// Package detect owns kinflow's detection rules: it reads the connection sets of one closed window (one Set per IP)
// and each IP's baseline from its previous windows, and says which IPs look like a horizontal scan, a vertical scan,
// a reject storm or unusual egress. It is pure: no I/O, no clock, no index or webhook types; the finalizer (a later
// change) builds the Sets from aggregate.Final with SetOf, keeps the history, calls Evaluate and writes the alerts.
//
// # Rules
//
//   - horizontal_scan (MITRE ATT&CK T1046): many distinct peers, and either most of the IP's flows rejected, or its
//     flows on one or a few service ports and mostly unanswered.
//   - vertical_scan (T1046): many distinct service ports (below EphemeralPorts) on few peers.
//   - reject_storm: rejected flows far above the IP's own baseline (a z-score), and above an absolute floor.
//   - unusual_egress (T1048): bytes sent far above the IP's baseline (a z-score and a factor of the mean), and above
//     an absolute floor; an IP with too short a history is judged by a larger absolute threshold only.
//
// Every rule has its own allow-list of IPs and CIDRs. The defaults, and why each holds against the legitimate heavy
// talkers (NAT gateways, load balancers, DNS resolvers, monitoring), are documented on DefaultConfig.
//
// # What the sets can and cannot tell
//
// A connection set counts an IP's peers in both directions and its rejected flows sent and received, so the rules
// lean on what the set does carry: the share of the IP's flows that were rejected, how many of the flows it sent were
// answered (flows received against flows sent), and its destination ports below EphemeralPorts. The last one is
// what keeps servers quiet: their responses go to the clients' ephemeral ports (32768 and up on Linux, 49152 and up
// on Windows and macOS), which a scan of service ports does not touch. Rules judge one window at a time: a scan
// slower than a rule's threshold per window is not seen. Baselines are the caller's: BaselineOf over the IP's
// previous windows, leaving out those in which it alerted (see BaselineOf for why).
package detect
