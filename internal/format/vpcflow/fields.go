package vpcflow

import (
	"net/netip"
	"strings"
)

// A Field is a known flow-log field. FieldUnknown stands for any name this version of kinflow does not know.
type Field uint8

// The known fields, in the order of the AWS documentation.
const (
	FieldUnknown Field = iota
	FieldVersion
	FieldAccountID
	FieldInterfaceID
	FieldSrcAddr
	FieldDstAddr
	FieldSrcPort
	FieldDstPort
	FieldProtocol
	FieldPackets
	FieldBytes
	FieldStart
	FieldEnd
	FieldAction
	FieldLogStatus
	FieldVPCID
	FieldSubnetID
	FieldInstanceID
	FieldTCPFlags
	FieldType
	FieldPktSrcAddr
	FieldPktDstAddr
	FieldRegion
	FieldAZID
	FieldSublocationType
	FieldSublocationID
	FieldPktSrcAWSService
	FieldPktDstAWSService
	FieldFlowDirection
	FieldTrafficPath
	FieldResourceType
	FieldTGWID
	FieldTGWAttachmentID
	FieldTGWSrcVPCAccountID
	FieldTGWDstVPCAccountID
	FieldTGWSrcVPCID
	FieldTGWDstVPCID
	FieldTGWSrcSubnetID
	FieldTGWDstSubnetID
	FieldTGWSrcENI
	FieldTGWDstENI
	FieldTGWSrcAZID
	FieldTGWDstAZID
	FieldTGWPairAttachmentID
	FieldPacketsLostNoRoute
	FieldPacketsLostBlackhole
	FieldPacketsLostMTUExceeded
	FieldPacketsLostTTLExpired
	FieldECSClusterARN
	FieldECSClusterName
	FieldECSContainerInstanceARN
	FieldECSContainerInstanceID
	FieldECSContainerID
	FieldECSSecondContainerID
	FieldECSServiceName
	FieldECSTaskDefinitionARN
	FieldECSTaskARN
	FieldECSTaskID
	FieldRejectReason
	numFields
)

// kind is how a field's text becomes a value.
type kind uint8

const (
	kindString kind = iota
	kindAddr
	kindPort
	kindProtocol
	kindCount // a non-negative integer: version, packets, bytes, packets-lost-*
	kindTime  // Unix seconds
	kindAction
	kindLogStatus
	kindTCPFlags
	kindFlowDirection
	kindTrafficPath
)

// fieldSpec is one row of the field table: the AWS name, the version that introduced it, how it parses, where it
// lives in a Flow, and where it goes in the ECS document ("" for aws.vpcflow.<name with underscores>; "-" when a
// derived field of the document table carries it instead).
type fieldSpec struct {
	name    string
	version int
	kind    kind
	ecs     string
	str     func(*Flow) *string
	addr    func(*Flow) *netip.Addr
	count   func(*Flow) *uint64
	port    func(*Flow) *uint16
}

// fields is the field table, indexed by Field.
var fields = [numFields]fieldSpec{
	FieldVersion:                 {name: "version", version: 2, kind: kindCount, count: func(f *Flow) *uint64 { return &f.Version }},
	FieldAccountID:               {name: "account-id", version: 2, ecs: "cloud.account.id", str: func(f *Flow) *string { return &f.AccountID }},
	FieldInterfaceID:             {name: "interface-id", version: 2, str: func(f *Flow) *string { return &f.InterfaceID }},
	FieldSrcAddr:                 {name: "srcaddr", version: 2, kind: kindAddr, ecs: "source.ip", addr: func(f *Flow) *netip.Addr { return &f.SrcAddr }},
	FieldDstAddr:                 {name: "dstaddr", version: 2, kind: kindAddr, ecs: "destination.ip", addr: func(f *Flow) *netip.Addr { return &f.DstAddr }},
	FieldSrcPort:                 {name: "srcport", version: 2, kind: kindPort, ecs: "source.port", port: func(f *Flow) *uint16 { return &f.SrcPort }},
	FieldDstPort:                 {name: "dstport", version: 2, kind: kindPort, ecs: "destination.port", port: func(f *Flow) *uint16 { return &f.DstPort }},
	FieldProtocol:                {name: "protocol", version: 2, kind: kindProtocol, ecs: "-"},
	FieldPackets:                 {name: "packets", version: 2, kind: kindCount, ecs: "network.packets", count: func(f *Flow) *uint64 { return &f.Packets }},
	FieldBytes:                   {name: "bytes", version: 2, kind: kindCount, ecs: "network.bytes", count: func(f *Flow) *uint64 { return &f.Bytes }},
	FieldStart:                   {name: "start", version: 2, kind: kindTime, ecs: "-"},
	FieldEnd:                     {name: "end", version: 2, kind: kindTime, ecs: "-"},
	FieldAction:                  {name: "action", version: 2, kind: kindAction, ecs: "-"},
	FieldLogStatus:               {name: "log-status", version: 2, kind: kindLogStatus},
	FieldVPCID:                   {name: "vpc-id", version: 3, str: func(f *Flow) *string { return &f.VPCID }},
	FieldSubnetID:                {name: "subnet-id", version: 3, str: func(f *Flow) *string { return &f.SubnetID }},
	FieldInstanceID:              {name: "instance-id", version: 3, str: func(f *Flow) *string { return &f.InstanceID }},
	FieldTCPFlags:                {name: "tcp-flags", version: 3, kind: kindTCPFlags},
	FieldType:                    {name: "type", version: 3, str: func(f *Flow) *string { return &f.Type }},
	FieldPktSrcAddr:              {name: "pkt-srcaddr", version: 3, kind: kindAddr, addr: func(f *Flow) *netip.Addr { return &f.PktSrcAddr }},
	FieldPktDstAddr:              {name: "pkt-dstaddr", version: 3, kind: kindAddr, addr: func(f *Flow) *netip.Addr { return &f.PktDstAddr }},
	FieldRegion:                  {name: "region", version: 4, ecs: "cloud.region", str: func(f *Flow) *string { return &f.Region }},
	FieldAZID:                    {name: "az-id", version: 4, ecs: "cloud.availability_zone", str: func(f *Flow) *string { return &f.AZID }},
	FieldSublocationType:         {name: "sublocation-type", version: 4, str: func(f *Flow) *string { return &f.SublocationType }},
	FieldSublocationID:           {name: "sublocation-id", version: 4, str: func(f *Flow) *string { return &f.SublocationID }},
	FieldPktSrcAWSService:        {name: "pkt-src-aws-service", version: 5, str: func(f *Flow) *string { return &f.PktSrcAWSService }},
	FieldPktDstAWSService:        {name: "pkt-dst-aws-service", version: 5, str: func(f *Flow) *string { return &f.PktDstAWSService }},
	FieldFlowDirection:           {name: "flow-direction", version: 5, kind: kindFlowDirection, ecs: "-"},
	FieldTrafficPath:             {name: "traffic-path", version: 5, kind: kindTrafficPath},
	FieldResourceType:            {name: "resource-type", version: 6, str: func(f *Flow) *string { return &f.ResourceType }},
	FieldTGWID:                   {name: "tgw-id", version: 6, str: func(f *Flow) *string { return &f.TGWID }},
	FieldTGWAttachmentID:         {name: "tgw-attachment-id", version: 6, str: func(f *Flow) *string { return &f.TGWAttachmentID }},
	FieldTGWSrcVPCAccountID:      {name: "tgw-src-vpc-account-id", version: 6, str: func(f *Flow) *string { return &f.TGWSrcVPCAccountID }},
	FieldTGWDstVPCAccountID:      {name: "tgw-dst-vpc-account-id", version: 6, str: func(f *Flow) *string { return &f.TGWDstVPCAccountID }},
	FieldTGWSrcVPCID:             {name: "tgw-src-vpc-id", version: 6, str: func(f *Flow) *string { return &f.TGWSrcVPCID }},
	FieldTGWDstVPCID:             {name: "tgw-dst-vpc-id", version: 6, str: func(f *Flow) *string { return &f.TGWDstVPCID }},
	FieldTGWSrcSubnetID:          {name: "tgw-src-subnet-id", version: 6, str: func(f *Flow) *string { return &f.TGWSrcSubnetID }},
	FieldTGWDstSubnetID:          {name: "tgw-dst-subnet-id", version: 6, str: func(f *Flow) *string { return &f.TGWDstSubnetID }},
	FieldTGWSrcENI:               {name: "tgw-src-eni", version: 6, str: func(f *Flow) *string { return &f.TGWSrcENI }},
	FieldTGWDstENI:               {name: "tgw-dst-eni", version: 6, str: func(f *Flow) *string { return &f.TGWDstENI }},
	FieldTGWSrcAZID:              {name: "tgw-src-az-id", version: 6, str: func(f *Flow) *string { return &f.TGWSrcAZID }},
	FieldTGWDstAZID:              {name: "tgw-dst-az-id", version: 6, str: func(f *Flow) *string { return &f.TGWDstAZID }},
	FieldTGWPairAttachmentID:     {name: "tgw-pair-attachment-id", version: 6, str: func(f *Flow) *string { return &f.TGWPairAttachmentID }},
	FieldPacketsLostNoRoute:      {name: "packets-lost-no-route", version: 6, kind: kindCount, count: func(f *Flow) *uint64 { return &f.PacketsLostNoRoute }},
	FieldPacketsLostBlackhole:    {name: "packets-lost-blackhole", version: 6, kind: kindCount, count: func(f *Flow) *uint64 { return &f.PacketsLostBlackhole }},
	FieldPacketsLostMTUExceeded:  {name: "packets-lost-mtu-exceeded", version: 6, kind: kindCount, count: func(f *Flow) *uint64 { return &f.PacketsLostMTUExceeded }},
	FieldPacketsLostTTLExpired:   {name: "packets-lost-ttl-expired", version: 6, kind: kindCount, count: func(f *Flow) *uint64 { return &f.PacketsLostTTLExpired }},
	FieldECSClusterARN:           {name: "ecs-cluster-arn", version: 7, str: func(f *Flow) *string { return &f.ECSClusterARN }},
	FieldECSClusterName:          {name: "ecs-cluster-name", version: 7, str: func(f *Flow) *string { return &f.ECSClusterName }},
	FieldECSContainerInstanceARN: {name: "ecs-container-instance-arn", version: 7, str: func(f *Flow) *string { return &f.ECSContainerInstanceARN }},
	FieldECSContainerInstanceID:  {name: "ecs-container-instance-id", version: 7, str: func(f *Flow) *string { return &f.ECSContainerInstanceID }},
	FieldECSContainerID:          {name: "ecs-container-id", version: 7, str: func(f *Flow) *string { return &f.ECSContainerID }},
	FieldECSSecondContainerID:    {name: "ecs-second-container-id", version: 7, str: func(f *Flow) *string { return &f.ECSSecondContainerID }},
	FieldECSServiceName:          {name: "ecs-service-name", version: 7, str: func(f *Flow) *string { return &f.ECSServiceName }},
	FieldECSTaskDefinitionARN:    {name: "ecs-task-definition-arn", version: 7, str: func(f *Flow) *string { return &f.ECSTaskDefinitionARN }},
	FieldECSTaskARN:              {name: "ecs-task-arn", version: 7, str: func(f *Flow) *string { return &f.ECSTaskARN }},
	FieldECSTaskID:               {name: "ecs-task-id", version: 7, str: func(f *Flow) *string { return &f.ECSTaskID }},
	FieldRejectReason:            {name: "reject-reason", version: 8, str: func(f *Flow) *string { return &f.RejectReason }},
}

// String returns the field's AWS name ("unknown" for FieldUnknown).
func (f Field) String() string {
	if f == FieldUnknown || f >= numFields {
		return "unknown"
	}
	return fields[f].name
}

// Version returns the flow-log version that introduced f (0 for FieldUnknown).
func (f Field) Version() int {
	if f >= numFields {
		return 0
	}
	return fields[f].version
}

// LookupField returns the field with the AWS name (as in the format string, without ${}), or FieldUnknown.
func LookupField(name string) Field {
	for i := FieldVersion; i < numFields; i++ {
		if fields[i].name == name {
			return i
		}
	}
	return FieldUnknown
}

// docName is where a flow-log field lands under aws.vpcflow: its name with '-' as '_'.
func docName(awsName string) string { return strings.ReplaceAll(awsName, "-", "_") }
