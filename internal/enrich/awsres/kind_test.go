package awsres

import "testing"

func TestClassify(t *testing.T) {
	tests := map[string]struct {
		ifType, desc, requester string
		managed                 bool
		instance                string
		kind                    Kind
		name                    string
	}{
		"instance":                 {ifType: "interface", desc: "Primary network interface", instance: "i-1", kind: KindInstance},
		"instance, efa":            {ifType: "efa", instance: "i-1", kind: KindInstance},
		"plain ENI":                {ifType: "interface", desc: "my spare", kind: KindInterface},
		"no type":                  {kind: KindInterface},
		"ALB":                      {ifType: "interface", desc: "ELB app/shop-frontend/50dc6c495c0c9188", requester: "amazon-elb", managed: true, kind: KindApplicationLoadBalancer, name: "shop-frontend"},
		"ALB, load_balancer type":  {ifType: "load_balancer", desc: "ELB app/a/1", kind: KindApplicationLoadBalancer, name: "a"},
		"NLB by description":       {ifType: "network_load_balancer", desc: "ELB net/ingress/0123456789abcdef", managed: true, kind: KindNetworkLoadBalancer, name: "ingress"},
		"NLB by type":              {ifType: "network_load_balancer", managed: true, kind: KindNetworkLoadBalancer},
		"GWLB":                     {ifType: "gateway_load_balancer", desc: "ELB gwy/inspect/0123", managed: true, kind: KindGatewayLoadBalancer, name: "inspect"},
		"GWLB endpoint":            {ifType: "gateway_load_balancer_endpoint", desc: "VPC Endpoint Interface vpce-0abc", managed: true, kind: KindGatewayLoadBalancerEndpoint, name: "vpce-0abc"},
		"classic ELB":              {ifType: "interface", desc: "ELB legacy-web", requester: "amazon-elb", managed: true, kind: KindClassicLoadBalancer, name: "legacy-web"},
		"ELB-like, not amazon-elb": {ifType: "interface", desc: "ELB legacy-web", kind: KindInterface},
		"NAT gateway":              {ifType: "nat_gateway", desc: "Interface for NAT Gateway nat-0123456789abcdef0", managed: true, kind: KindNATGateway, name: "nat-0123456789abcdef0"},
		"NAT gateway, type only":   {ifType: "nat_gateway", managed: true, kind: KindNATGateway},
		"VPC endpoint":             {ifType: "vpc_endpoint", desc: "VPC Endpoint Interface vpce-0123", managed: true, kind: KindVPCEndpoint, name: "vpce-0123"},
		"lambda":                   {ifType: "lambda", desc: "AWS Lambda VPC ENI-orders-api-1f2e3d4c-5b6a-7980-a1b2-c3d4e5f60718", managed: true, kind: KindLambda, name: "orders-api"},
		"lambda, no uuid":          {ifType: "lambda", desc: "AWS Lambda VPC ENI-orders-api", managed: true, kind: KindLambda, name: "orders-api"},
		"lambda, old type":         {ifType: "interface", desc: "AWS Lambda VPC ENI-fn-1f2e3d4c-5b6a-7980-a1b2-c3d4e5f60718", managed: true, kind: KindLambda, name: "fn"},
		"transit gateway":          {ifType: "transit_gateway", desc: "Network Interface for Transit Gateway Attachment tgw-attach-0123", managed: true, kind: KindTransitGateway, name: "tgw-attach-0123"},
		"ECS task":                 {ifType: "interface", desc: "arn:aws:ecs:us-east-1:123456789012:attachment/0f0e", managed: true, kind: KindECSTask},
		"RDS":                      {ifType: "interface", desc: "RDSNetworkInterface", requester: "amazon-rds", managed: true, kind: KindRDS},
		"EFS":                      {ifType: "interface", desc: "EFS mount target for fs-0123 (fsmt-4567)", managed: true, kind: KindEFS, name: "fs-0123"},
		"ElastiCache":              {ifType: "interface", desc: "ElastiCache sessions-0001-001", requester: "amazon-elasticache", managed: true, kind: KindElastiCache, name: "sessions-0001-001"},
		"EKS":                      {ifType: "interface", desc: "Amazon EKS prod", managed: true, kind: KindEKS, name: "prod"},
		"API gateway":              {ifType: "api_gateway_managed", managed: true, kind: KindAPIGateway},
		"trunk":                    {ifType: "trunk", kind: KindTrunk},
		"unknown type passes":      {ifType: "quicksight", managed: true, kind: Kind("quicksight")},
		// A NAT gateway's interface is attached to an AWS-owned instance; the service, not the instance, owns it.
		"managed, attached":          {ifType: "nat_gateway", desc: "Interface for NAT Gateway nat-1", managed: true, instance: "i-aws", kind: KindNATGateway, name: "nat-1"},
		"managed, attached, unknown": {ifType: "interface", desc: "something", managed: true, instance: "i-aws", kind: KindInstance},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			kind, got := classify(tc.ifType, tc.desc, tc.requester, tc.managed, tc.instance)
			if kind != tc.kind || got != tc.name {
				t.Errorf("classify = %q, %q; want %q, %q", kind, got, tc.kind, tc.name)
			}
		})
	}
}

func TestNormalizeType(t *testing.T) {
	if got := normalizeType("natGateway"); got != "nat_gateway" {
		t.Errorf("natGateway -> %q", got)
	}
	if got := normalizeType("lambda"); got != "lambda" {
		t.Errorf("lambda -> %q", got)
	}
}
