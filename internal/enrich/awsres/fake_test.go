package awsres

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// fakeEC2 serves interfaces in pages of pageLen and the Name tags of instances, counting the calls.
type fakeEC2 struct {
	enis          []types.NetworkInterface
	names         map[string]string // instance id -> Name tag
	pageLen       int
	eniCalls      int
	tagCalls      int
	maxTagFilters int
}

func (f *fakeEC2) DescribeNetworkInterfaces(_ context.Context, in *ec2.DescribeNetworkInterfacesInput, _ ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error) {
	f.eniCalls++
	start := 0
	if in.NextToken != nil {
		start, _ = strconv.Atoi(*in.NextToken)
	}
	end := min(start+f.pageLen, len(f.enis))
	out := &ec2.DescribeNetworkInterfacesOutput{NetworkInterfaces: f.enis[start:end]}
	if end < len(f.enis) {
		out.NextToken = aws.String(strconv.Itoa(end))
	}
	return out, nil
}

func (f *fakeEC2) DescribeFlowLogs(context.Context, *ec2.DescribeFlowLogsInput, ...func(*ec2.Options)) (*ec2.DescribeFlowLogsOutput, error) {
	return &ec2.DescribeFlowLogsOutput{}, nil
}

func (f *fakeEC2) DescribeTags(_ context.Context, in *ec2.DescribeTagsInput, _ ...func(*ec2.Options)) (*ec2.DescribeTagsOutput, error) {
	f.tagCalls++
	out := &ec2.DescribeTagsOutput{}
	for _, flt := range in.Filters {
		if aws.ToString(flt.Name) != "resource-id" {
			continue
		}
		f.maxTagFilters = max(f.maxTagFilters, len(flt.Values))
		for _, id := range flt.Values {
			if n, ok := f.names[id]; ok {
				out.Tags = append(out.Tags, types.TagDescription{ResourceId: aws.String(id), Key: aws.String("Name"), Value: aws.String(n)})
			}
		}
	}
	return out, nil
}

// synthetic returns n interfaces like a fleet's: instances with two private addresses, one in four with a public
// address and an IPv6 address, spread over 4 subnets and 2 VPCs sharing 3 sets of security groups.
func synthetic(n int, base netip.Addr) *fakeEC2 {
	f := &fakeEC2{names: map[string]string{}, pageLen: 1000}
	ip := base
	for i := range n {
		eni := fmt.Sprintf("eni-%017x", i)
		inst := fmt.Sprintf("i-%017x", i)
		p1, p2 := ip, ip.Next()
		ip = p2.Next()
		ni := types.NetworkInterface{
			NetworkInterfaceId: aws.String(eni), InterfaceType: types.NetworkInterfaceTypeInterface,
			Description: aws.String("Primary network interface"), RequesterId: aws.String("AIDAEXAMPLE"),
			Attachment: &types.NetworkInterfaceAttachment{InstanceId: aws.String(inst)},
			SubnetId:   aws.String(fmt.Sprintf("subnet-%017x", i%4)), VpcId: aws.String(fmt.Sprintf("vpc-%017x", i%2)),
			AvailabilityZone: aws.String("us-east-1" + string(rune('a'+i%4))), OwnerId: aws.String("123456789012"),
			Groups:           []types.GroupIdentifier{{GroupId: aws.String(fmt.Sprintf("sg-%017x", i%3)), GroupName: aws.String("group-" + strconv.Itoa(i%3))}},
			PrivateIpAddress: aws.String(p1.String()),
			PrivateIpAddresses: []types.NetworkInterfacePrivateIpAddress{
				{PrivateIpAddress: aws.String(p1.String()), Primary: aws.Bool(true)},
				{PrivateIpAddress: aws.String(p2.String())},
			},
		}
		if i%4 == 0 {
			a := p1.As4()
			pub := netip.AddrFrom4([4]byte{54, a[1], a[2], a[3]}).String()
			ni.Association = &types.NetworkInterfaceAssociation{PublicIp: aws.String(pub)}
			ni.PrivateIpAddresses[0].Association = &types.NetworkInterfaceAssociation{PublicIp: aws.String(pub)}
			v6 := netip.AddrFrom16([16]byte{0x26, 0x00, 0x1f, 0x18, 12: byte(i >> 24), 13: byte(i >> 16), 14: byte(i >> 8), 15: byte(i)})
			ni.Ipv6Addresses = []types.NetworkInterfaceIpv6Address{{Ipv6Address: aws.String(v6.String())}}
		}
		f.enis = append(f.enis, ni)
		f.names[inst] = fmt.Sprintf("web-%d", i)
	}
	return f
}

func TestFetchPagesTagsAndAddresses(t *testing.T) {
	f := synthetic(450, netip.MustParseAddr("10.0.0.10"))
	f.pageLen = 100
	// A NAT gateway with the SDK's spelling of its type, a delegated /28 and a public address on a secondary.
	f.enis = append(f.enis, types.NetworkInterface{
		NetworkInterfaceId: aws.String("eni-nat"), InterfaceType: types.NetworkInterfaceTypeNatGateway,
		Description: aws.String("Interface for NAT Gateway nat-0abc"), RequesterManaged: aws.Bool(true),
		VpcId: aws.String("vpc-00000000000000000"), PrivateIpAddress: aws.String("10.9.0.5"),
		PrivateIpAddresses: []types.NetworkInterfacePrivateIpAddress{
			{PrivateIpAddress: aws.String("10.9.0.5"), Primary: aws.Bool(true)},
			{PrivateIpAddress: aws.String("10.9.0.6"), Association: &types.NetworkInterfaceAssociation{PublicIp: aws.String("3.3.3.3")}},
		},
		Ipv4Prefixes: []types.Ipv4PrefixSpecification{{Ipv4Prefix: aws.String("10.9.1.16/28")}, {Ipv4Prefix: aws.String("10.8.0.0/16")}},
		Ipv6Address:  aws.String("2600:1f18::5"),
		TagSet:       []types.Tag{{Key: aws.String("Name"), Value: aws.String("egress")}},
	})
	p, err := fetch(t.Context(), f, Target{Region: "us-east-1"}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if f.eniCalls != 5 || f.tagCalls != 3 || f.maxTagFilters != tagBatch || len(p.resources) != 451 || p.dropped != 0 {
		t.Fatalf("%d interface pages, %d tag calls (at most %d ids), %d resources, %d dropped", f.eniCalls, f.tagCalls,
			f.maxTagFilters, len(p.resources), p.dropped)
	}
	s := assemble([]*part{p}, 1000, time.Unix(1, 0))

	r, ok := s.Lookup(netip.MustParseAddr("10.0.0.11")) // the secondary of the first interface
	if !ok || r.ENI != "eni-00000000000000000" || r.Name != "web-0" || r.Kind != KindInstance || len(r.PublicIPs) != 1 {
		t.Fatalf("Lookup(10.0.0.11) = %+v", r)
	}
	if r2, _ := s.Lookup(netip.MustParseAddr("::ffff:10.0.0.11")); r2 != r {
		t.Error("an IPv4-mapped address must find its IPv4 interface")
	}
	if r2, _ := s.Lookup(r.IPv6[0]); r2 != r {
		t.Error("the IPv6 address must find its interface")
	}
	if r2, _ := s.Lookup(netip.MustParseAddr("10.0.0.20")); r2 == nil || r2.InstanceName != "web-5" {
		t.Errorf("10.0.0.20: %+v", r2)
	}
	nat, ok := s.Interface("eni-nat")
	wantPriv := []netip.Addr{netip.MustParseAddr("10.9.0.5"), netip.MustParseAddr("10.9.0.6")}
	for a := netip.MustParseAddr("10.9.1.16"); a.Compare(netip.MustParseAddr("10.9.1.31")) <= 0; a = a.Next() {
		wantPriv = append(wantPriv, a)
	}
	if !ok || nat.Kind != KindNATGateway || nat.InterfaceType != "nat_gateway" || nat.Name != "nat-0abc" ||
		!slices.Equal(nat.PrivateIPs, wantPriv) || !slices.Equal(nat.PublicIPs, []netip.Addr{netip.MustParseAddr("3.3.3.3")}) ||
		!slices.Equal(nat.IPv6, []netip.Addr{netip.MustParseAddr("2600:1f18::5")}) {
		t.Fatalf("NAT interface: %+v", nat)
	}
	if r, _ := s.Lookup(netip.MustParseAddr("10.9.1.20")); r != nat {
		t.Error("an address of a delegated prefix must find its interface")
	}
	if _, ok := s.Lookup(netip.MustParseAddr("10.8.0.1")); ok {
		t.Error("a /16 prefix must not be expanded")
	}
	// Interned: every interface of one subnet shares one copy of the string, and one slice of groups.
	a, b := p.resources[0], p.resources[3]
	if unsafeData(a.SubnetID) != unsafeData(p.resources[4].SubnetID) || &a.SecurityGroupIDs[0] != &b.SecurityGroupIDs[0] {
		t.Error("repeated strings and group lists must be shared")
	}
}

func TestBoundAndSharedAddresses(t *testing.T) {
	// Two targets with the same private range: target order decides Lookup, the VPC decides LookupVPC.
	fa := synthetic(30, netip.MustParseAddr("10.0.0.10"))
	fb := synthetic(30, netip.MustParseAddr("10.0.0.10"))
	for i := range fb.enis {
		fb.enis[i].NetworkInterfaceId = aws.String(*fb.enis[i].NetworkInterfaceId + "b")
		fb.enis[i].VpcId = aws.String("vpc-bbbbbbbbbbbbbbbbb")
	}
	fa.pageLen, fb.pageLen = 10, 10
	pa, err := fetch(t.Context(), fa, Target{Region: "us-east-1"}, 25)
	if err != nil {
		t.Fatal(err)
	}
	if len(pa.resources) != 25 || pa.dropped != 5 || fa.eniCalls != 3 {
		t.Fatalf("bounded fetch: %d resources, %d dropped, %d pages", len(pa.resources), pa.dropped, fa.eniCalls)
	}
	// At the bound with pages left, the listing stops: the API calls the bound saves are not spent counting.
	early := synthetic(30, netip.MustParseAddr("10.0.0.10"))
	early.pageLen = 10
	if p, err := fetch(t.Context(), early, Target{Region: "us-east-1"}, 20); err != nil || len(p.resources) != 20 ||
		p.dropped != 1 || early.eniCalls != 2 {
		t.Fatalf("early stop: %v, %d pages, %+v", err, early.eniCalls, p)
	}
	pb, err := fetch(t.Context(), fb, Target{Region: "eu-west-1"}, 25)
	if err != nil {
		t.Fatal(err)
	}
	s := assemble([]*part{pa, nil, pb}, 40, time.Unix(1, 0))
	st := s.Stats()
	if st.Interfaces != 40 || st.Dropped != 5+5+10 || st.SharedAddresses == 0 {
		t.Fatalf("stats %+v", st)
	}
	ip := netip.MustParseAddr("10.0.0.10")
	if r, _ := s.Lookup(ip); r.Region != "us-east-1" {
		t.Errorf("Lookup of a shared address answers %s, want the first target's", r.ENI)
	}
	if r, _ := s.LookupVPC(ip, "vpc-bbbbbbbbbbbbbbbbb"); r.Region != "eu-west-1" {
		t.Errorf("LookupVPC answers %s, want the second target's", r.ENI)
	}
}

func unsafeData(s string) *byte { return unsafe.StringData(s) }
