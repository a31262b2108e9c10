// Package vpcflow reads VPC flow-log lines: it compiles the format a flow log was created with (the AWS
// ${field} string, or a list of names, versions 2 to 8 in any order, unknown names kept as strings), parses each
// line into a typed Flow without allocating, chooses the format per log group (a default, overrides, or discovery
// through a FormatSource), and appends the ECS document of a flow to a caller's buffer, following a declarative
// field table. It knows nothing of CloudWatch Logs envelopes or AWS SDKs.
package vpcflow

import "net/netip"

// A Flow is one parsed flow-log line. Fields the format does not have, or that the line gives as "-", are zero
// and absent from Present. Strings point into the line; a Flow is reused by passing it to Parse again.
type Flow struct {
	Format  *Format  // the format the line was parsed with
	Present FieldSet // the known fields that had a value

	// version 2 (the default format)
	Version     uint64
	AccountID   string
	InterfaceID string
	SrcAddr     netip.Addr
	DstAddr     netip.Addr
	SrcPort     uint16
	DstPort     uint16
	Protocol    uint8 // IANA protocol number
	Packets     uint64
	Bytes       uint64
	Start       int64 // Unix seconds
	End         int64 // Unix seconds
	Action      Action
	LogStatus   LogStatus

	// version 3
	VPCID      string
	SubnetID   string
	InstanceID string
	TCPFlags   TCPFlags
	Type       string // IPv4, IPv6 or EFA
	PktSrcAddr netip.Addr
	PktDstAddr netip.Addr

	// version 4
	Region          string
	AZID            string
	SublocationType string
	SublocationID   string

	// version 5
	PktSrcAWSService string
	PktDstAWSService string
	FlowDirection    FlowDirection
	TrafficPath      TrafficPath

	// version 6 (transit gateway flow logs)
	ResourceType           string
	TGWID                  string
	TGWAttachmentID        string
	TGWSrcVPCAccountID     string
	TGWDstVPCAccountID     string
	TGWSrcVPCID            string
	TGWDstVPCID            string
	TGWSrcSubnetID         string
	TGWDstSubnetID         string
	TGWSrcENI              string
	TGWDstENI              string
	TGWSrcAZID             string
	TGWDstAZID             string
	TGWPairAttachmentID    string
	PacketsLostNoRoute     uint64
	PacketsLostBlackhole   uint64
	PacketsLostMTUExceeded uint64
	PacketsLostTTLExpired  uint64

	// version 7 (ECS)
	ECSClusterARN           string
	ECSClusterName          string
	ECSContainerInstanceARN string
	ECSContainerInstanceID  string
	ECSContainerID          string
	ECSSecondContainerID    string
	ECSServiceName          string
	ECSTaskDefinitionARN    string
	ECSTaskARN              string
	ECSTaskID               string

	// version 8
	RejectReason string

	// Unknown holds the values of the format's unknown fields, in the order of Format.UnknownNames; "" for "-".
	Unknown []string
}

// Has reports whether the line gave field a value.
func (f *Flow) Has(field Field) bool { return f.Present.Has(field) }

// HasAddresses reports whether the flow has a source or destination address. NODATA and SKIPDATA records usually
// have none, but keep those their line carries.
func (f *Flow) HasAddresses() bool { return f.SrcAddr.IsValid() || f.DstAddr.IsValid() }

// NoTraffic reports whether the record is a NODATA or SKIPDATA record: it reports on a capture window (no traffic,
// or records skipped), not on a connection, whatever values its line carries. Such records are indexed, but they
// make no connection in the document (event.type) and must be left out of connection sets.
func (f *Flow) NoTraffic() bool {
	return f.LogStatus == LogStatusNoData || f.LogStatus == LogStatusSkipData
}

// EventTime returns the flow's event time in Unix seconds: its start, or, when the format or line has none, the
// CloudWatch Logs event timestamp (milliseconds), rounded down.
func (f *Flow) EventTime(eventMillis int64) int64 {
	if f.Has(FieldStart) {
		return f.Start
	}
	return floorDiv(eventMillis, 1000)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// A FieldSet is a set of known fields.
type FieldSet uint64

// Has reports whether f is in s.
func (s FieldSet) Has(f Field) bool { return f != FieldUnknown && s&(1<<f) != 0 }

func (s *FieldSet) add(f Field) { *s |= 1 << f }

// Action is the action field.
type Action uint8

const (
	ActionNone Action = iota // absent ("-", as in NODATA and SKIPDATA records)
	ActionAccept
	ActionReject
)

func (a Action) String() string { return [...]string{"", "ACCEPT", "REJECT"}[a] }

// LogStatus is the log-status field.
type LogStatus uint8

const (
	LogStatusNone     LogStatus = iota // absent
	LogStatusOK                        // data is logging normally
	LogStatusNoData                    // no traffic in the capture window
	LogStatusSkipData                  // records were skipped in the capture window
)

func (s LogStatus) String() string { return [...]string{"", "OK", "NODATA", "SKIPDATA"}[s] }

// FlowDirection is the flow-direction field.
type FlowDirection uint8

const (
	DirectionNone FlowDirection = iota
	DirectionIngress
	DirectionEgress
)

func (d FlowDirection) String() string { return [...]string{"", "ingress", "egress"}[d] }

// TrafficPath is the traffic-path field: the path egress traffic takes to its destination (1: another resource in
// the VPC, 2: internet or gateway VPC endpoint, 3: virtual private gateway, 4: intra-region peering, 5: inter-region
// peering, 6: local gateway, 7: gateway VPC endpoint (Nitro), 8: internet gateway (Nitro)). 0 means absent; values
// AWS adds later are kept as numbers.
type TrafficPath uint8

// TCPFlags is the tcp-flags field: the OR of the TCP flags seen in the capture window.
type TCPFlags uint16

// The TCP flag bits.
const (
	FIN TCPFlags = 1 << iota
	SYN
	RST
	PSH
	ACK
	URG
	ECE
	CWR
)

var tcpFlagNames = [...]string{"fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr"}

// Names appends the lower-case names of the flags set in t, in bit order.
func (t TCPFlags) Names(dst []string) []string {
	for i, n := range tcpFlagNames {
		if t&(1<<i) != 0 {
			dst = append(dst, n)
		}
	}
	return dst
}
