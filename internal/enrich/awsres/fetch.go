package awsres

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"unique"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// EC2API is the part of the EC2 client the inventory uses.
type EC2API interface {
	DescribeNetworkInterfaces(ctx context.Context, in *ec2.DescribeNetworkInterfacesInput, opts ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error)
	DescribeTags(ctx context.Context, in *ec2.DescribeTagsInput, opts ...func(*ec2.Options)) (*ec2.DescribeTagsOutput, error)
	DescribeFlowLogs(ctx context.Context, in *ec2.DescribeFlowLogsInput, opts ...func(*ec2.Options)) (*ec2.DescribeFlowLogsOutput, error)
}

var _ EC2API = (*ec2.Client)(nil)

// A ClientFactory returns the EC2 client that reads a target: NewClientFactory in production, clients of a local
// emulator or fakes in tests. The Refresher calls it once per target and again after a failure.
type ClientFactory func(Target) (EC2API, error)

const (
	// pageSize is the largest page DescribeNetworkInterfaces and DescribeTags give.
	pageSize = 1000
	// tagBatch is how many instance ids one DescribeTags request filters on: EC2 caps the values of a filter.
	tagBatch = 200
	// maxPrefixAddrs bounds the addresses one delegated IPv4 prefix adds (a /28 has 16): a wider prefix is not
	// expanded into the index.
	maxPrefixAddrs = 256
)

// A part is one target's interfaces, as its last successful refresh found them. Immutable once built.
type part struct {
	resources []*Resource
	dropped   int // interfaces EC2 listed beyond the bound; at least 1 when the listing stopped early
}

// fetch lists the interfaces of one target, at most limit of them, and names their instances.
func fetch(ctx context.Context, api EC2API, t Target, limit int) (*part, error) {
	in := &ec2.DescribeNetworkInterfacesInput{MaxResults: aws.Int32(pageSize)}
	if len(t.VPCs) > 0 {
		in.Filters = []types.Filter{{Name: aws.String("vpc-id"), Values: t.VPCs}}
	}
	b := newBuilder(t.Region)
	dropped := 0
	p := ec2.NewDescribeNetworkInterfacesPaginator(api, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, &TargetError{Target: t, Op: "DescribeNetworkInterfaces", Err: err}
		}
		for i := range out.NetworkInterfaces {
			if len(b.resources) == limit {
				dropped++
				continue
			}
			b.add(&out.NetworkInterfaces[i])
		}
		if len(b.resources) == limit && p.HasMorePages() {
			// There is more, but listing it all only to count it would cost the API calls the bound saves.
			dropped++
			break
		}
	}
	if err := b.nameInstances(ctx, api, t); err != nil {
		return nil, err
	}
	logged, err := flowLogged(ctx, api, t)
	if err != nil {
		return nil, err
	}
	resources := b.finish()
	for _, r := range resources {
		r.FlowLogged = logged[r.ENI] || logged[r.SubnetID] || logged[r.VPCID]
		r.enriched = r.enrich()
	}
	return &part{resources: resources, dropped: dropped}, nil
}

// flowLogged returns the resources (VPCs, subnets, interfaces) that an active flow log covers: an interface in one
// of them has its side of every connection logged.
func flowLogged(ctx context.Context, api EC2API, t Target) (map[string]bool, error) {
	out := map[string]bool{}
	p := ec2.NewDescribeFlowLogsPaginator(api, &ec2.DescribeFlowLogsInput{MaxResults: aws.Int32(pageSize)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, &TargetError{Target: t, Op: "DescribeFlowLogs", Err: err}
		}
		for _, fl := range page.FlowLogs {
			// Only a log of the accepted traffic (ALL or ACCEPT) has the sender's side of a connection that the
			// receiver also logs: a REJECT-only log leaves the receiver's record the only one of an accepted flow.
			active := aws.ToString(fl.FlowLogStatus) == "ACTIVE" || fl.FlowLogStatus == nil
			accepted := fl.TrafficType == types.TrafficTypeAll || fl.TrafficType == types.TrafficTypeAccept || fl.TrafficType == ""
			if active && accepted {
				out[aws.ToString(fl.ResourceId)] = true
			}
		}
	}
	return out, nil
}

// A builder turns EC2's interfaces into Resources, sharing what repeats among them.
type builder struct {
	region    string
	resources []*Resource
	slab      []Resource   // the Resources themselves, allocated in chunks rather than one by one
	addrs     []netip.Addr // every address, sliced into the Resources by finish
	spans     []addrSpans
	eniName   []string               // each resource's own Name tag, the last resort for Name
	groups    map[string][2][]string // security group ids and names by the groups they describe
}

// addrSpans are a resource's addresses in builder.addrs: private [a, b), IPv6 [b, c), public [c, d).
type addrSpans struct{ a, b, c, d int }

const slabChunk = 256

func newBuilder(region string) *builder {
	return &builder{region: intern(region), groups: map[string][2][]string{}}
}

// intern returns the canonical copy of a string that many interfaces repeat (VPC, subnet, zone, account, type),
// so the snapshot holds one copy of it, shared with the previous snapshots and the other targets.
func intern(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}

func (b *builder) add(ni *types.NetworkInterface) {
	if len(b.slab) == 0 {
		b.slab = make([]Resource, slabChunk)
	}
	r := &b.slab[0]
	b.slab = b.slab[1:]

	r.ENI = aws.ToString(ni.NetworkInterfaceId)
	r.InterfaceType = intern(normalizeType(string(ni.InterfaceType)))
	r.Description = aws.ToString(ni.Description)
	r.RequesterID = intern(aws.ToString(ni.RequesterId))
	r.RequesterManaged = aws.ToBool(ni.RequesterManaged)
	if ni.Attachment != nil {
		r.InstanceID = aws.ToString(ni.Attachment.InstanceId)
	}
	r.SubnetID = intern(aws.ToString(ni.SubnetId))
	r.VPCID = intern(aws.ToString(ni.VpcId))
	r.AvailabilityZone = intern(aws.ToString(ni.AvailabilityZone))
	r.OwnerID = intern(aws.ToString(ni.OwnerId))
	r.Region = b.region
	r.SecurityGroupIDs, r.SecurityGroupNames = b.securityGroups(ni.Groups)
	r.Kind, r.Name = classify(r.InterfaceType, r.Description, r.RequesterID, r.RequesterManaged, r.InstanceID)
	if r.Name != "" {
		r.Name = intern(r.Name) // a load balancer's or function's name repeats over its interfaces
	}

	b.resources = append(b.resources, r)
	b.spans = append(b.spans, b.addAddrs(ni))
	var own string
	for _, tag := range ni.TagSet {
		if aws.ToString(tag.Key) == "Name" {
			own = aws.ToString(tag.Value)
		}
	}
	b.eniName = append(b.eniName, own)
}

// addAddrs appends the interface's private, IPv6 and public addresses to b.addrs and says where each group is.
func (b *builder) addAddrs(ni *types.NetworkInterface) addrSpans {
	start := len(b.addrs)
	b.appendNew(start, parseAddr(aws.ToString(ni.PrivateIpAddress))) // the primary first
	for _, p := range ni.PrivateIpAddresses {
		b.appendNew(start, parseAddr(aws.ToString(p.PrivateIpAddress)))
	}
	for _, p := range ni.Ipv4Prefixes {
		pfx, err := netip.ParsePrefix(aws.ToString(p.Ipv4Prefix))
		if err != nil || !pfx.Addr().Is4() || 32-pfx.Bits() > 8 || 1<<(32-pfx.Bits()) > maxPrefixAddrs {
			continue
		}
		pfx = pfx.Masked()
		for a := pfx.Addr(); a.IsValid() && pfx.Contains(a); a = a.Next() {
			b.appendNew(start, a)
		}
	}
	v6 := len(b.addrs)
	b.appendNew(v6, parseAddr(aws.ToString(ni.Ipv6Address)))
	for _, p := range ni.Ipv6Addresses {
		b.appendNew(v6, parseAddr(aws.ToString(p.Ipv6Address)))
	}
	pub := len(b.addrs)
	if ni.Association != nil {
		b.appendNew(pub, parseAddr(aws.ToString(ni.Association.PublicIp)))
	}
	for _, p := range ni.PrivateIpAddresses {
		if p.Association != nil {
			b.appendNew(pub, parseAddr(aws.ToString(p.Association.PublicIp)))
		}
	}
	return addrSpans{a: start, b: v6, c: pub, d: len(b.addrs)}
}

// appendNew appends a valid address not already in b.addrs[from:]: EC2 lists the primary address both on its own
// and among PrivateIpAddresses, and its association twice too. The lists are short; a scan beats a set.
func (b *builder) appendNew(from int, a netip.Addr) {
	if a.IsValid() && !slices.Contains(b.addrs[from:], a) {
		b.addrs = append(b.addrs, a)
	}
}

// parseAddr parses an address EC2 gives, the invalid zero Addr for an empty or malformed one.
func parseAddr(s string) netip.Addr {
	if s == "" {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// securityGroups returns the interface's group ids and names, sorted by id (EC2 lists them in no set order), and
// shared with every interface that has the same groups (most interfaces of a fleet do).
func (b *builder) securityGroups(groups []types.GroupIdentifier) ([]string, []string) {
	if len(groups) == 0 {
		return nil, nil
	}
	if !slices.IsSortedFunc(groups, byGroupID) {
		groups = slices.SortedFunc(slices.Values(groups), byGroupID)
	}
	var key strings.Builder
	for _, g := range groups {
		key.WriteString(aws.ToString(g.GroupId))
		key.WriteByte(0)
		key.WriteString(aws.ToString(g.GroupName))
		key.WriteByte(0)
	}
	if s, ok := b.groups[key.String()]; ok {
		return s[0], s[1]
	}
	ids, names := make([]string, len(groups)), make([]string, len(groups))
	for i, g := range groups {
		ids[i], names[i] = intern(aws.ToString(g.GroupId)), intern(aws.ToString(g.GroupName))
	}
	b.groups[key.String()] = [2][]string{ids, names}
	return ids, names
}

func byGroupID(a, b types.GroupIdentifier) int {
	return strings.Compare(aws.ToString(a.GroupId), aws.ToString(b.GroupId))
}

// nameInstances fills in the Name tags of the attached instances, with DescribeTags filtered on their ids in
// batches: one request per tagBatch instances rather than DescribeInstances' full descriptions of them.
func (b *builder) nameInstances(ctx context.Context, api EC2API, t Target) error {
	var ids []string
	seen := map[string]bool{}
	for _, r := range b.resources {
		if r.InstanceID != "" && !seen[r.InstanceID] {
			seen[r.InstanceID] = true
			ids = append(ids, r.InstanceID)
		}
	}
	names := make(map[string]string, len(ids))
	for batch := range slices.Chunk(ids, tagBatch) {
		in := &ec2.DescribeTagsInput{
			Filters: []types.Filter{
				{Name: aws.String("resource-id"), Values: batch},
				{Name: aws.String("key"), Values: []string{"Name"}},
			},
			MaxResults: aws.Int32(pageSize),
		}
		p := ec2.NewDescribeTagsPaginator(api, in)
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return &TargetError{Target: t, Op: "DescribeTags", Err: err}
			}
			for _, tag := range out.Tags {
				// The filters are applied again: not every implementation honours both.
				id := aws.ToString(tag.ResourceId)
				if aws.ToString(tag.Key) == "Name" && seen[id] {
					names[id] = aws.ToString(tag.Value)
				}
			}
		}
	}
	for _, r := range b.resources {
		if n, ok := names[r.InstanceID]; ok && r.InstanceID != "" {
			r.InstanceName = n
		}
	}
	return nil
}

// finish slices the addresses into the Resources, settles their names and returns them.
func (b *builder) finish() []*Resource {
	// One array for every address of the target; each Resource's slices are capped so an append cannot reach
	// into its neighbour's.
	addrs := slices.Clip(b.addrs)
	for i, r := range b.resources {
		sp := b.spans[i]
		r.PrivateIPs = nilIfEmpty(addrs[sp.a:sp.b:sp.b])
		r.IPv6 = nilIfEmpty(addrs[sp.b:sp.c:sp.c])
		r.PublicIPs = nilIfEmpty(addrs[sp.c:sp.d:sp.d])
		switch {
		case r.Kind == KindInstance && r.InstanceName != "":
			r.Name = r.InstanceName
		case r.Name == "" && b.eniName[i] != "":
			r.Name = b.eniName[i]
		}
	}
	return slices.Clip(b.resources)
}

func nilIfEmpty(a []netip.Addr) []netip.Addr {
	if len(a) == 0 {
		return nil
	}
	return a
}
