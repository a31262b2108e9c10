package schema

import (
	"slices"
	"strings"
)

// Flows returns the family of raw flow documents: one per flow-log line, written by internal/format/vpcflow's
// encoder.
func Flows() Family { return flows.clone() }

// VPCFlowLogPrefix is where a flow-log field without an ECS home lands: aws.vpcflow.<its name, '-' as '_'>.
const VPCFlowLogPrefix = "aws.vpcflow."

// vpcflow is the row of a flow-log field kept under its own name: aws.vpcflow.<name, '-' as '_'>, made from that
// field alone; how, when given, says more about the value than its name.
func vpcflow(awsName string, t Type, how string) Field {
	return Field{Name: VPCFlowLogPrefix + strings.ReplaceAll(awsName, "-", "_"), Type: t, Source: awsName + how,
		Needs: []string{awsName}}
}

func needs(awsNames ...string) []string { return awsNames }

// flows is in document order: the encoder writes the members of each object in the order their rows come here.
var flows = Family{
	Name:    "flows",
	Title:   "raw flows",
	Indices: []string{"flows-*"},
	Fields: []Field{
		{Name: "@timestamp", Type: Date, Source: "start (the event timestamp when the format has no start)"},
		{Name: "event.kind", Type: Keyword, Source: `"event"`},
		{Name: "event.category", Type: Keyword, Array: true, Source: `["network"]`},
		{Name: "event.type", Type: Keyword, Array: true, Source: `action: ["connection","allowed"] for ACCEPT, ["connection","denied"] for REJECT; ["connection"] for a record with addresses but no action, unless NODATA or SKIPDATA`,
			Needs: needs("action", "srcaddr", "dstaddr")},
		{Name: "event.action", Type: Keyword, Source: "action: accept or reject", Needs: needs("action")},
		{Name: "event.outcome", Type: Keyword, Source: "action: success for ACCEPT, failure for REJECT", Needs: needs("action")},
		{Name: "event.start", Type: Date, DocValuesOnly: true, Source: "start", Needs: needs("start")},
		{Name: "event.end", Type: Date, DocValuesOnly: true, Source: "end", Needs: needs("end")},
		{Name: "event.id", Type: Keyword, DocValuesOnly: true, Source: "the CloudWatch Logs event id"},
		{Name: "source.ip", Type: IP, Source: "srcaddr", Needs: needs("srcaddr")},
		{Name: "source.port", Type: Long, DocValuesOnly: true, Source: "srcport", Needs: needs("srcport")},
		{Name: "destination.ip", Type: IP, Source: "dstaddr", Needs: needs("dstaddr")},
		{Name: "destination.port", Type: Long, Source: "dstport", Needs: needs("dstport")},
		{Name: "network.iana_number", Type: Keyword, Source: "protocol (the number, as text)", Needs: needs("protocol")},
		{Name: "network.transport", Type: Keyword, Source: "protocol: its IANA keyword (tcp, udp, icmp, ipv6-icmp, ...)", Needs: needs("protocol")},
		{Name: "network.type", Type: Keyword, Source: "srcaddr/dstaddr: ipv4 or ipv6", Needs: needs("srcaddr", "dstaddr")},
		{Name: "network.bytes", Type: Long, DocValuesOnly: true, Source: "bytes", Needs: needs("bytes")},
		{Name: "network.packets", Type: Long, DocValuesOnly: true, Source: "packets", Needs: needs("packets")},
		{Name: "network.direction", Type: Keyword, Source: "flow-direction: ingress or egress", Needs: needs("flow-direction")},
		{Name: "cloud.provider", Type: Keyword, Source: `"aws"`},
		{Name: "cloud.account.id", Type: Keyword, Source: "account-id", Needs: needs("account-id")},
		{Name: "cloud.region", Type: Keyword, Source: "region", Needs: needs("region")},
		{Name: "cloud.availability_zone", Type: Keyword, Source: "az-id", Needs: needs("az-id")},
		{Name: "related.ip", Type: IP, Array: true, DocValuesOnly: true, Source: "srcaddr, dstaddr, pkt-srcaddr, pkt-dstaddr (distinct)",
			Needs: needs("srcaddr", "dstaddr", "pkt-srcaddr", "pkt-dstaddr")},
		vpcflow("version", Long, ""),
		vpcflow("interface-id", Keyword, ""),
		vpcflow("log-status", Keyword, ": OK, NODATA or SKIPDATA"),
		vpcflow("vpc-id", Keyword, ""),
		vpcflow("subnet-id", Keyword, ""),
		vpcflow("instance-id", Keyword, ""),
		vpcflow("tcp-flags", Long, " (the bits as a number)"),
		{Name: "aws.vpcflow.tcp_flags_array", Type: Keyword, Array: true,
			Source: "tcp-flags: names of the bits set (fin, syn, rst, psh, ack, urg, ece, cwr)", Needs: needs("tcp-flags")},
		vpcflow("type", Keyword, ""),
		vpcflow("pkt-srcaddr", IP, ""),
		vpcflow("pkt-dstaddr", IP, ""),
		vpcflow("sublocation-type", Keyword, ""),
		vpcflow("sublocation-id", Keyword, ""),
		vpcflow("pkt-src-aws-service", Keyword, ""),
		vpcflow("pkt-dst-aws-service", Keyword, ""),
		vpcflow("traffic-path", Long, ": 1 to 8"),
		vpcflow("resource-type", Keyword, ""),
		vpcflow("tgw-id", Keyword, ""),
		vpcflow("tgw-attachment-id", Keyword, ""),
		vpcflow("tgw-src-vpc-account-id", Keyword, ""),
		vpcflow("tgw-dst-vpc-account-id", Keyword, ""),
		vpcflow("tgw-src-vpc-id", Keyword, ""),
		vpcflow("tgw-dst-vpc-id", Keyword, ""),
		vpcflow("tgw-src-subnet-id", Keyword, ""),
		vpcflow("tgw-dst-subnet-id", Keyword, ""),
		vpcflow("tgw-src-eni", Keyword, ""),
		vpcflow("tgw-dst-eni", Keyword, ""),
		vpcflow("tgw-src-az-id", Keyword, ""),
		vpcflow("tgw-dst-az-id", Keyword, ""),
		vpcflow("tgw-pair-attachment-id", Keyword, ""),
		vpcflow("packets-lost-no-route", Long, ""),
		vpcflow("packets-lost-blackhole", Long, ""),
		vpcflow("packets-lost-mtu-exceeded", Long, ""),
		vpcflow("packets-lost-ttl-expired", Long, ""),
		vpcflow("ecs-cluster-arn", Keyword, ""),
		vpcflow("ecs-cluster-name", Keyword, ""),
		vpcflow("ecs-container-instance-arn", Keyword, ""),
		vpcflow("ecs-container-instance-id", Keyword, ""),
		vpcflow("ecs-container-id", Keyword, ""),
		vpcflow("ecs-second-container-id", Keyword, ""),
		vpcflow("ecs-service-name", Keyword, ""),
		vpcflow("ecs-task-definition-arn", Keyword, ""),
		vpcflow("ecs-task-arn", Keyword, ""),
		vpcflow("ecs-task-id", Keyword, ""),
		vpcflow("reject-reason", Keyword, ""),
		{Name: "aws.cloudwatch.log_group", Type: Keyword, Source: "the CloudWatch Logs group"},
		{Name: "aws.cloudwatch.log_stream", Type: Keyword, Source: "the CloudWatch Logs stream"},
		{Name: "aws.kinesis.shard_id", Type: Keyword, Source: "the Kinesis shard of the record that first delivered the flow"},
		{Name: "aws.kinesis.sequence_number", Type: Keyword, DocValuesOnly: true, Source: "the sequence number of that record"},
		{Name: "log.file.path", Type: Keyword, Source: "the S3 object of the line: s3://bucket/key", Description: "flow logs delivered to S3 only"},
		{Name: "log.offset", Type: Long, Source: "the line's byte offset in the decompressed object", Description: "flow logs delivered to S3 only"},
		// Enrichment (README "Enrichment"): written only when a source is configured and knows the address.
		{Name: "cloud.instance.id", Type: Keyword, Enriched: true, Source: "interface-id: the EC2 instance the logging interface is attached to"},
		{Name: "cloud.instance.name", Type: Keyword, Enriched: true, Source: "that instance's Name tag"},
		{Name: "source.geo.country_iso_code", Type: Keyword, Enriched: true, Source: "srcaddr: the GeoIP database's country", Description: "public addresses only"},
		{Name: "source.geo.country_name", Type: Keyword, Enriched: true, Source: "srcaddr: the country's English name"},
		{Name: "source.geo.continent_code", Type: Keyword, Enriched: true, Source: "srcaddr: the continent"},
		{Name: "source.geo.region_name", Type: Keyword, Enriched: true, Source: "srcaddr: the first subdivision's English name"},
		{Name: "source.geo.city_name", Type: Keyword, Enriched: true, Source: "srcaddr: the city's English name"},
		{Name: "source.as.number", Type: Long, Enriched: true, Source: "srcaddr: the ASN database's autonomous system number"},
		{Name: "source.as.organization.name", Type: Keyword, Enriched: true, Source: "srcaddr: the autonomous system's organization"},
		{Name: "aws.source.interface.id", Type: Keyword, Enriched: true, Source: "srcaddr: the network interface that holds the address in the user's VPCs"},
		{Name: "aws.source.interface.type", Type: Keyword, Enriched: true, Source: "its type: interface, nat_gateway, network_load_balancer, vpc_endpoint, lambda, ..."},
		{Name: "aws.source.instance.id", Type: Keyword, Enriched: true, Source: "the instance it is attached to"},
		{Name: "aws.source.instance.name", Type: Keyword, Enriched: true, Source: "that instance's Name tag"},
		{Name: "aws.source.security_groups", Type: Keyword, Array: true, Enriched: true, Source: "the interface's security groups"},
		{Name: "aws.source.subnet_id", Type: Keyword, Enriched: true, Source: "the interface's subnet"},
		{Name: "aws.source.vpc_id", Type: Keyword, Enriched: true, Source: "the interface's VPC"},
		{Name: "aws.source.account_id", Type: Keyword, Enriched: true, Source: "the interface's owner"},
		{Name: "destination.geo.country_iso_code", Type: Keyword, Enriched: true, Source: "dstaddr: the GeoIP database's country", Description: "public addresses only"},
		{Name: "destination.geo.country_name", Type: Keyword, Enriched: true, Source: "dstaddr: the country's English name"},
		{Name: "destination.geo.continent_code", Type: Keyword, Enriched: true, Source: "dstaddr: the continent"},
		{Name: "destination.geo.region_name", Type: Keyword, Enriched: true, Source: "dstaddr: the first subdivision's English name"},
		{Name: "destination.geo.city_name", Type: Keyword, Enriched: true, Source: "dstaddr: the city's English name"},
		{Name: "destination.as.number", Type: Long, Enriched: true, Source: "dstaddr: the ASN database's autonomous system number"},
		{Name: "destination.as.organization.name", Type: Keyword, Enriched: true, Source: "dstaddr: the autonomous system's organization"},
		{Name: "aws.destination.interface.id", Type: Keyword, Enriched: true, Source: "dstaddr: the network interface that holds the address in the user's VPCs"},
		{Name: "aws.destination.interface.type", Type: Keyword, Enriched: true, Source: "its type: interface, nat_gateway, network_load_balancer, vpc_endpoint, lambda, ..."},
		{Name: "aws.destination.instance.id", Type: Keyword, Enriched: true, Source: "the instance it is attached to"},
		{Name: "aws.destination.instance.name", Type: Keyword, Enriched: true, Source: "that instance's Name tag"},
		{Name: "aws.destination.security_groups", Type: Keyword, Array: true, Enriched: true, Source: "the interface's security groups"},
		{Name: "aws.destination.subnet_id", Type: Keyword, Enriched: true, Source: "the interface's subnet"},
		{Name: "aws.destination.vpc_id", Type: Keyword, Enriched: true, Source: "the interface's VPC"},
		{Name: "aws.destination.account_id", Type: Keyword, Enriched: true, Source: "the interface's owner"},
		{Name: "threat.enrichments.matched.field", Type: Keyword, Array: true, Enriched: true, Source: "source.ip and/or destination.ip: the end(s) on a threat list",
			Description: "one entry per match, in the order of matched.atomic and indicator.provider"},
		{Name: "threat.enrichments.matched.atomic", Type: IP, Array: true, Enriched: true, Source: "the address that matched"},
		{Name: "threat.enrichments.indicator.provider", Type: Keyword, Array: true, Enriched: true, Source: "the name of the list that holds it"},
		{Name: "threat.enrichments.indicator.description", Type: Keyword, Array: true, Enriched: true, Source: "the list's entry: its IP or CIDR, and its description when the list gives one"},
		// A later format version's packets-lost-* field is a count before kinflow knows it: mapped long from the
		// first day, so the daily indices agree once the encoder writes it as a number.
		{Name: VPCFlowLogPrefix + "packets_lost_", Any: true, Type: Long,
			Source: "a packets-lost-* field kinflow does not know yet: its text, which the index reads as a number"},
		{Name: VPCFlowLogPrefix, Any: true, Type: Keyword,
			Source: "any field of a custom format that kinflow does not know, '-' as '_'"},
	},
}

// FlowLogResources are the kinds of resource whose flow logs can carry a field.
type FlowLogResources uint8

const (
	// VPCResources are VPCs, subnets and network interfaces: the flow logs of "VPC Flow Logs".
	VPCResources FlowLogResources = 1 << iota
	// TransitGatewayResources are transit gateways and their attachments.
	TransitGatewayResources

	bothResources = VPCResources | TransitGatewayResources
)

// A FlowLogField is a field of a VPC or transit gateway flow-log line: the input of the flows family.
type FlowLogField struct {
	Name      string // as in the LogFormat: ${name}
	Version   int    // the flow-log version that introduced it
	Resources FlowLogResources
	// Target is the document field that carries the value (other rows of the flows family may derive from it too:
	// Needs says which).
	Target string
}

// VPCFlowLogFields returns every flow-log field AWS defines, in the order of its documentation (the default format
// is the version 2 fields in this order).
func VPCFlowLogFields() []FlowLogField { return slices.Clone(flowLogFields) }

var flowLogFields = []FlowLogField{
	{"version", 2, bothResources, "aws.vpcflow.version"},
	{"account-id", 2, bothResources, "cloud.account.id"},
	{"interface-id", 2, VPCResources, "aws.vpcflow.interface_id"},
	{"srcaddr", 2, bothResources, "source.ip"},
	{"dstaddr", 2, bothResources, "destination.ip"},
	{"srcport", 2, bothResources, "source.port"},
	{"dstport", 2, bothResources, "destination.port"},
	{"protocol", 2, bothResources, "network.iana_number"},
	{"packets", 2, bothResources, "network.packets"},
	{"bytes", 2, bothResources, "network.bytes"},
	{"start", 2, bothResources, "event.start"},
	{"end", 2, bothResources, "event.end"},
	{"action", 2, VPCResources, "event.action"},
	{"log-status", 2, bothResources, "aws.vpcflow.log_status"},
	{"vpc-id", 3, VPCResources, "aws.vpcflow.vpc_id"},
	{"subnet-id", 3, VPCResources, "aws.vpcflow.subnet_id"},
	{"instance-id", 3, VPCResources, "aws.vpcflow.instance_id"},
	{"tcp-flags", 3, bothResources, "aws.vpcflow.tcp_flags"},
	{"type", 3, bothResources, "aws.vpcflow.type"},
	{"pkt-srcaddr", 3, VPCResources, "aws.vpcflow.pkt_srcaddr"},
	{"pkt-dstaddr", 3, VPCResources, "aws.vpcflow.pkt_dstaddr"},
	{"region", 4, bothResources, "cloud.region"},
	{"az-id", 4, VPCResources, "cloud.availability_zone"},
	{"sublocation-type", 4, VPCResources, "aws.vpcflow.sublocation_type"},
	{"sublocation-id", 4, VPCResources, "aws.vpcflow.sublocation_id"},
	{"pkt-src-aws-service", 5, bothResources, "aws.vpcflow.pkt_src_aws_service"},
	{"pkt-dst-aws-service", 5, bothResources, "aws.vpcflow.pkt_dst_aws_service"},
	{"flow-direction", 5, bothResources, "network.direction"},
	{"traffic-path", 5, VPCResources, "aws.vpcflow.traffic_path"},
	{"resource-type", 6, TransitGatewayResources, "aws.vpcflow.resource_type"},
	{"tgw-id", 6, TransitGatewayResources, "aws.vpcflow.tgw_id"},
	{"tgw-attachment-id", 6, TransitGatewayResources, "aws.vpcflow.tgw_attachment_id"},
	{"tgw-src-vpc-account-id", 6, TransitGatewayResources, "aws.vpcflow.tgw_src_vpc_account_id"},
	{"tgw-dst-vpc-account-id", 6, TransitGatewayResources, "aws.vpcflow.tgw_dst_vpc_account_id"},
	{"tgw-src-vpc-id", 6, TransitGatewayResources, "aws.vpcflow.tgw_src_vpc_id"},
	{"tgw-dst-vpc-id", 6, TransitGatewayResources, "aws.vpcflow.tgw_dst_vpc_id"},
	{"tgw-src-subnet-id", 6, TransitGatewayResources, "aws.vpcflow.tgw_src_subnet_id"},
	{"tgw-dst-subnet-id", 6, TransitGatewayResources, "aws.vpcflow.tgw_dst_subnet_id"},
	{"tgw-src-eni", 6, TransitGatewayResources, "aws.vpcflow.tgw_src_eni"},
	{"tgw-dst-eni", 6, TransitGatewayResources, "aws.vpcflow.tgw_dst_eni"},
	{"tgw-src-az-id", 6, TransitGatewayResources, "aws.vpcflow.tgw_src_az_id"},
	{"tgw-dst-az-id", 6, TransitGatewayResources, "aws.vpcflow.tgw_dst_az_id"},
	{"tgw-pair-attachment-id", 6, TransitGatewayResources, "aws.vpcflow.tgw_pair_attachment_id"},
	{"packets-lost-no-route", 6, TransitGatewayResources, "aws.vpcflow.packets_lost_no_route"},
	{"packets-lost-blackhole", 6, TransitGatewayResources, "aws.vpcflow.packets_lost_blackhole"},
	{"packets-lost-mtu-exceeded", 6, TransitGatewayResources, "aws.vpcflow.packets_lost_mtu_exceeded"},
	{"packets-lost-ttl-expired", 6, TransitGatewayResources, "aws.vpcflow.packets_lost_ttl_expired"},
	{"ecs-cluster-arn", 7, VPCResources, "aws.vpcflow.ecs_cluster_arn"},
	{"ecs-cluster-name", 7, VPCResources, "aws.vpcflow.ecs_cluster_name"},
	{"ecs-container-instance-arn", 7, VPCResources, "aws.vpcflow.ecs_container_instance_arn"},
	{"ecs-container-instance-id", 7, VPCResources, "aws.vpcflow.ecs_container_instance_id"},
	{"ecs-container-id", 7, VPCResources, "aws.vpcflow.ecs_container_id"},
	{"ecs-second-container-id", 7, VPCResources, "aws.vpcflow.ecs_second_container_id"},
	{"ecs-service-name", 7, VPCResources, "aws.vpcflow.ecs_service_name"},
	{"ecs-task-definition-arn", 7, VPCResources, "aws.vpcflow.ecs_task_definition_arn"},
	{"ecs-task-arn", 7, VPCResources, "aws.vpcflow.ecs_task_arn"},
	{"ecs-task-id", 7, VPCResources, "aws.vpcflow.ecs_task_id"},
	{"reject-reason", 8, VPCResources, "aws.vpcflow.reject_reason"},
}
