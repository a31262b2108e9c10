package vpcflow

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/kinflow/kinflow/internal/schema"
)

// A Field is a known flow-log field. FieldUnknown stands for any name this version of kinflow does not know.
type Field uint8

// The known fields, in the order of the AWS documentation and of the registry's flow-log table
// (schema.VPCFlowLogFields), from which the field table takes their names and versions.
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

// fieldSpec is one row of the field table: the AWS name and the version that introduced it, both from the
// registry's flow-log table, then how the field parses and where it lives in a Flow. Where its value goes in a
// document is the registry's too (schema.FlowLogField.Target).
type fieldSpec struct {
	name    string
	version int
	kind    kind
	str     func(*Flow) *string
	addr    func(*Flow) *netip.Addr
	count   func(*Flow) *uint64
	port    func(*Flow) *uint16
}

// fields is the field table, indexed by Field.
var fields = named([numFields]fieldSpec{
	FieldVersion:                 {kind: kindCount, count: func(f *Flow) *uint64 { return &f.Version }},
	FieldAccountID:               {str: func(f *Flow) *string { return &f.AccountID }},
	FieldInterfaceID:             {str: func(f *Flow) *string { return &f.InterfaceID }},
	FieldSrcAddr:                 {kind: kindAddr, addr: func(f *Flow) *netip.Addr { return &f.SrcAddr }},
	FieldDstAddr:                 {kind: kindAddr, addr: func(f *Flow) *netip.Addr { return &f.DstAddr }},
	FieldSrcPort:                 {kind: kindPort, port: func(f *Flow) *uint16 { return &f.SrcPort }},
	FieldDstPort:                 {kind: kindPort, port: func(f *Flow) *uint16 { return &f.DstPort }},
	FieldProtocol:                {kind: kindProtocol},
	FieldPackets:                 {kind: kindCount, count: func(f *Flow) *uint64 { return &f.Packets }},
	FieldBytes:                   {kind: kindCount, count: func(f *Flow) *uint64 { return &f.Bytes }},
	FieldStart:                   {kind: kindTime},
	FieldEnd:                     {kind: kindTime},
	FieldAction:                  {kind: kindAction},
	FieldLogStatus:               {kind: kindLogStatus},
	FieldVPCID:                   {str: func(f *Flow) *string { return &f.VPCID }},
	FieldSubnetID:                {str: func(f *Flow) *string { return &f.SubnetID }},
	FieldInstanceID:              {str: func(f *Flow) *string { return &f.InstanceID }},
	FieldTCPFlags:                {kind: kindTCPFlags},
	FieldType:                    {str: func(f *Flow) *string { return &f.Type }},
	FieldPktSrcAddr:              {kind: kindAddr, addr: func(f *Flow) *netip.Addr { return &f.PktSrcAddr }},
	FieldPktDstAddr:              {kind: kindAddr, addr: func(f *Flow) *netip.Addr { return &f.PktDstAddr }},
	FieldRegion:                  {str: func(f *Flow) *string { return &f.Region }},
	FieldAZID:                    {str: func(f *Flow) *string { return &f.AZID }},
	FieldSublocationType:         {str: func(f *Flow) *string { return &f.SublocationType }},
	FieldSublocationID:           {str: func(f *Flow) *string { return &f.SublocationID }},
	FieldPktSrcAWSService:        {str: func(f *Flow) *string { return &f.PktSrcAWSService }},
	FieldPktDstAWSService:        {str: func(f *Flow) *string { return &f.PktDstAWSService }},
	FieldFlowDirection:           {kind: kindFlowDirection},
	FieldTrafficPath:             {kind: kindTrafficPath},
	FieldResourceType:            {str: func(f *Flow) *string { return &f.ResourceType }},
	FieldTGWID:                   {str: func(f *Flow) *string { return &f.TGWID }},
	FieldTGWAttachmentID:         {str: func(f *Flow) *string { return &f.TGWAttachmentID }},
	FieldTGWSrcVPCAccountID:      {str: func(f *Flow) *string { return &f.TGWSrcVPCAccountID }},
	FieldTGWDstVPCAccountID:      {str: func(f *Flow) *string { return &f.TGWDstVPCAccountID }},
	FieldTGWSrcVPCID:             {str: func(f *Flow) *string { return &f.TGWSrcVPCID }},
	FieldTGWDstVPCID:             {str: func(f *Flow) *string { return &f.TGWDstVPCID }},
	FieldTGWSrcSubnetID:          {str: func(f *Flow) *string { return &f.TGWSrcSubnetID }},
	FieldTGWDstSubnetID:          {str: func(f *Flow) *string { return &f.TGWDstSubnetID }},
	FieldTGWSrcENI:               {str: func(f *Flow) *string { return &f.TGWSrcENI }},
	FieldTGWDstENI:               {str: func(f *Flow) *string { return &f.TGWDstENI }},
	FieldTGWSrcAZID:              {str: func(f *Flow) *string { return &f.TGWSrcAZID }},
	FieldTGWDstAZID:              {str: func(f *Flow) *string { return &f.TGWDstAZID }},
	FieldTGWPairAttachmentID:     {str: func(f *Flow) *string { return &f.TGWPairAttachmentID }},
	FieldPacketsLostNoRoute:      {kind: kindCount, count: func(f *Flow) *uint64 { return &f.PacketsLostNoRoute }},
	FieldPacketsLostBlackhole:    {kind: kindCount, count: func(f *Flow) *uint64 { return &f.PacketsLostBlackhole }},
	FieldPacketsLostMTUExceeded:  {kind: kindCount, count: func(f *Flow) *uint64 { return &f.PacketsLostMTUExceeded }},
	FieldPacketsLostTTLExpired:   {kind: kindCount, count: func(f *Flow) *uint64 { return &f.PacketsLostTTLExpired }},
	FieldECSClusterARN:           {str: func(f *Flow) *string { return &f.ECSClusterARN }},
	FieldECSClusterName:          {str: func(f *Flow) *string { return &f.ECSClusterName }},
	FieldECSContainerInstanceARN: {str: func(f *Flow) *string { return &f.ECSContainerInstanceARN }},
	FieldECSContainerInstanceID:  {str: func(f *Flow) *string { return &f.ECSContainerInstanceID }},
	FieldECSContainerID:          {str: func(f *Flow) *string { return &f.ECSContainerID }},
	FieldECSSecondContainerID:    {str: func(f *Flow) *string { return &f.ECSSecondContainerID }},
	FieldECSServiceName:          {str: func(f *Flow) *string { return &f.ECSServiceName }},
	FieldECSTaskDefinitionARN:    {str: func(f *Flow) *string { return &f.ECSTaskDefinitionARN }},
	FieldECSTaskARN:              {str: func(f *Flow) *string { return &f.ECSTaskARN }},
	FieldECSTaskID:               {str: func(f *Flow) *string { return &f.ECSTaskID }},
	FieldRejectReason:            {str: func(f *Flow) *string { return &f.RejectReason }},
})

// named gives each row of t the name and version of the registry's row at its place: the Field constants follow the
// registry's order, the AWS documentation's. A registry with another number of fields is a programming error
// (TestFieldTableFollowsRegistry reports which rows disagree).
func named(t [numFields]fieldSpec) [numFields]fieldSpec {
	rows := schema.VPCFlowLogFields()
	if len(rows) != int(numFields-FieldVersion) {
		panic(fmt.Sprintf("vpcflow: %d flow-log fields in the registry, %d in the field table", len(rows), numFields-FieldVersion))
	}
	for i, r := range rows {
		t[FieldVersion+Field(i)].name, t[FieldVersion+Field(i)].version = r.Name, r.Version
	}
	return t
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
