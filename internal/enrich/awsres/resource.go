package awsres

import (
	"net/netip"
	"strings"

	"github.com/kinflow/kinflow/internal/enrich"
)

// A Resource is one network interface and what it belongs to. Resources are shared by every reader of a snapshot
// and never change once built: read them, do not modify them (their slices included).
type Resource struct {
	ENI string // eni-0123456789abcdef0
	// InterfaceType is EC2's InterfaceType as listed ("interface", "nat_gateway", "network_load_balancer", "lambda",
	// ...; the SDK's "natGateway" spelled as the API answers it, "nat_gateway").
	InterfaceType string
	// Kind is what the interface belongs to, from InterfaceType, the attachment, RequesterId and Description (see
	// kindRules): KindInstance, KindApplicationLoadBalancer, KindLambda, ...
	Kind Kind
	// Name is the owner's name: the attached instance's Name tag; else what the description names (the load
	// balancer, the Lambda function, the NAT gateway or VPC endpoint id, ...); else the interface's own Name tag.
	Name        string
	Description string
	// RequesterID is the AWS service or principal that created a requester-managed interface ("amazon-elb", ...).
	RequesterID      string
	RequesterManaged bool
	InstanceID       string // the attached EC2 instance; empty for interfaces no instance holds
	InstanceName     string // its Name tag
	// SecurityGroupIDs and SecurityGroupNames are parallel, sorted by id: the name of SecurityGroupIDs[i] is
	// SecurityGroupNames[i].
	SecurityGroupIDs   []string
	SecurityGroupNames []string
	SubnetID           string
	VPCID              string
	AvailabilityZone   string
	OwnerID            string // the account that owns the interface
	Region             string
	// PrivateIPs are the private IPv4 addresses, the primary first, then the secondary ones, then those of the
	// delegated /28 prefixes.
	PrivateIPs []netip.Addr
	IPv6       []netip.Addr
	// PublicIPs are the public IPv4 addresses associated with the interface (an Elastic IP or an auto-assigned
	// address), the primary private address's first.
	PublicIPs []netip.Addr
	// FlowLogged: an active flow log covers the interface, its subnet or its VPC (DescribeFlowLogs).
	FlowLogged bool

	enriched *enrich.Resource // what a flow's document says of it, made once per snapshot
}

// enrich is what a flow's document says of r.
func (r *Resource) enrich() *enrich.Resource {
	return &enrich.Resource{InterfaceID: r.ENI, InterfaceType: string(r.Kind), Description: r.Description,
		InstanceID: r.InstanceID, InstanceName: r.InstanceName, SecurityGroups: r.SecurityGroupIDs,
		SubnetID: r.SubnetID, VPCID: r.VPCID, AccountID: r.OwnerID, Region: r.Region, FlowLogged: r.FlowLogged}
}

// Kind is what an interface belongs to.
type Kind string

// The kinds. Interfaces whose InterfaceType has no rule get that type as their kind, so a type AWS adds later is
// still reported, only not refined.
const (
	KindInterface                   Kind = "interface" // a plain ENI no instance holds and no service manages
	KindInstance                    Kind = "ec2_instance"
	KindApplicationLoadBalancer     Kind = "application_load_balancer"
	KindNetworkLoadBalancer         Kind = "network_load_balancer"
	KindGatewayLoadBalancer         Kind = "gateway_load_balancer"
	KindGatewayLoadBalancerEndpoint Kind = "gateway_load_balancer_endpoint"
	KindClassicLoadBalancer         Kind = "classic_load_balancer"
	KindNATGateway                  Kind = "nat_gateway"
	KindVPCEndpoint                 Kind = "vpc_endpoint"
	KindLambda                      Kind = "lambda"
	KindTransitGateway              Kind = "transit_gateway"
	KindECSTask                     Kind = "ecs_task"
	KindRDS                         Kind = "rds"
	KindEFS                         Kind = "efs_mount_target"
	KindElastiCache                 Kind = "elasticache"
	KindEKS                         Kind = "eks"
	KindAPIGateway                  Kind = "api_gateway"
	KindGlobalAccelerator           Kind = "global_accelerator"
	KindEFA                         Kind = "efa"
	KindTrunk                       Kind = "trunk"
	KindBranch                      Kind = "branch"
)

// A kindRule classifies an interface whose every non-empty condition holds. The conditions are those AWS documents
// for finding the resource behind a requester-managed interface: its InterfaceType, the prefix its creator writes
// into the description ("ELB app/<name>/<id>" for an ALB), and RequesterId.
type kindRule struct {
	ifType     string // exact InterfaceType
	descPrefix string
	requester  string // exact RequesterId
	kind       Kind
	// name extracts the owner's name from the description with descPrefix removed; nil: no name.
	name func(rest string) string
}

// kindRules are tried in order; the first that matches decides. Specific rules come before general ones: an ALB's
// description "ELB app/..." before a Classic Load Balancer's "ELB <name>".
var kindRules = []kindRule{
	{descPrefix: "ELB app/", kind: KindApplicationLoadBalancer, name: firstSegment},
	{descPrefix: "ELB net/", kind: KindNetworkLoadBalancer, name: firstSegment},
	{descPrefix: "ELB gwy/", kind: KindGatewayLoadBalancer, name: firstSegment},
	{ifType: "network_load_balancer", kind: KindNetworkLoadBalancer},
	{ifType: "gateway_load_balancer", kind: KindGatewayLoadBalancer},
	{ifType: "gateway_load_balancer_endpoint", descPrefix: "VPC Endpoint Interface ", kind: KindGatewayLoadBalancerEndpoint, name: firstWord},
	{ifType: "gateway_load_balancer_endpoint", kind: KindGatewayLoadBalancerEndpoint},
	// A Classic Load Balancer's interfaces are of type "interface", described "ELB <name>", requested by amazon-elb.
	{descPrefix: "ELB ", requester: "amazon-elb", kind: KindClassicLoadBalancer, name: firstWord},
	{descPrefix: "Interface for NAT Gateway ", kind: KindNATGateway, name: firstWord},
	{ifType: "nat_gateway", kind: KindNATGateway},
	{descPrefix: "VPC Endpoint Interface ", kind: KindVPCEndpoint, name: firstWord},
	{ifType: "vpc_endpoint", kind: KindVPCEndpoint},
	// "AWS Lambda VPC ENI-<function>-<uuid>" (older per-function interfaces; the Hyperplane ones keep the prefix).
	{descPrefix: "AWS Lambda VPC ENI-", kind: KindLambda, name: lambdaFunction},
	{ifType: "lambda", kind: KindLambda},
	{descPrefix: "Network Interface for Transit Gateway Attachment ", kind: KindTransitGateway, name: firstWord},
	{ifType: "transit_gateway", kind: KindTransitGateway},
	// awsvpc tasks (Fargate and EC2): the description is the task's attachment ARN.
	{descPrefix: "arn:aws:ecs:", kind: KindECSTask},
	{descPrefix: "arn:aws-us-gov:ecs:", kind: KindECSTask},
	{descPrefix: "arn:aws-cn:ecs:", kind: KindECSTask},
	{requester: "amazon-rds", kind: KindRDS},
	{descPrefix: "RDSNetworkInterface", kind: KindRDS},
	{descPrefix: "EFS mount target for ", kind: KindEFS, name: firstWord},
	{descPrefix: "ElastiCache ", kind: KindElastiCache, name: firstWord},
	{requester: "amazon-elasticache", kind: KindElastiCache},
	{descPrefix: "Amazon EKS ", kind: KindEKS, name: firstWord},
	{ifType: "api_gateway_managed", kind: KindAPIGateway},
	{ifType: "global_accelerator_managed", kind: KindGlobalAccelerator},
	{ifType: "efa", kind: KindEFA},
	{ifType: "efa-only", kind: KindEFA},
	{ifType: "trunk", kind: KindTrunk},
	{ifType: "branch", kind: KindBranch},
}

// classify returns the kind of an interface and the owner's name its description gives, if any. An interface an
// instance holds is the instance's unless a service manages it (requester-managed interfaces attached to
// AWS-owned instances, such as a NAT gateway's, are the service's).
func classify(ifType, description, requesterID string, requesterManaged bool, instanceID string) (Kind, string) {
	if instanceID != "" && !requesterManaged {
		return KindInstance, ""
	}
	for i := range kindRules {
		r := &kindRules[i]
		if r.ifType != "" && r.ifType != ifType ||
			r.requester != "" && r.requester != requesterID ||
			r.descPrefix != "" && !strings.HasPrefix(description, r.descPrefix) {
			continue
		}
		var name string
		if r.name != nil {
			name = r.name(description[len(r.descPrefix):])
		}
		return r.kind, name
	}
	if instanceID != "" {
		return KindInstance, ""
	}
	if ifType == "" || ifType == "interface" || ifType == "load_balancer" {
		// "load_balancer" without an "ELB ..." description is not one we can name; it is still an interface.
		return KindInterface, ""
	}
	return Kind(ifType), ""
}

// normalizeType spells an InterfaceType as the EC2 API answers it: the SDK's enum has "natGateway", the service
// sends "nat_gateway".
func normalizeType(t string) string {
	if t == "natGateway" {
		return "nat_gateway"
	}
	return t
}

// firstSegment is the name in "<name>/<id>" (an ELBv2 description after "ELB app/").
func firstSegment(rest string) string {
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// firstWord is the id or name up to the first space: "fs-1234 (fsmt-5678)" -> "fs-1234".
func firstWord(rest string) string {
	name, _, _ := strings.Cut(rest, " ")
	return name
}

// lambdaFunction is the function name in "<function>-<uuid>", or rest when it does not end in a UUID.
func lambdaFunction(rest string) string {
	const uuidLen = 36
	if len(rest) > uuidLen+1 && rest[len(rest)-uuidLen-1] == '-' && isUUID(rest[len(rest)-uuidLen:]) {
		return rest[:len(rest)-uuidLen-1]
	}
	return rest
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
