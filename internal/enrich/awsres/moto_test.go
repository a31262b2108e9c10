package awsres_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kinflow/kinflow/internal/enrich/awsres"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// motoAccount returns a role ARN in account n of the test: moto switches to the account of an assumed role, so the
// inventory's targets are accounts apart from the one other tests use. The accounts are fixed because moto takes
// seconds to set up EC2 in a new account and region; runs are kept apart by the targets' VPC filters.
func motoAccount(n int) string {
	return fmt.Sprintf("arn:aws:iam::21098765432%d:role/kinflow-inventory", n)
}

// motoEC2 is an EC2 client of moto in region with role assumed, built the way NewClientFactory builds it.
func motoEC2(endpoint, region, role string) *ec2.Client {
	cfg := testenv.AWSConfig(endpoint)
	cfg.Region = region
	cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), role))
	return ec2.NewFromConfig(cfg)
}

// world is what the test made in one account and region, and what the inventory must say about it.
type world struct {
	vpc, subnetA, subnetB string
	sgWeb, sgDB           string
	web, db               instance
	alb                   string // the ENI described like an ALB's
	albIP                 netip.Addr
	secondary             netip.Addr // a secondary private address of web's interface
	public                netip.Addr // an Elastic IP associated with web's interface
}

type instance struct {
	id, eni string
	ip      netip.Addr
}

func build(tb testing.TB, ctx context.Context, ec *ec2.Client, cidr string) *world {
	tb.Helper()
	w := &world{}
	vpc := call(tb, "CreateVpc", func() (*ec2.CreateVpcOutput, error) {
		return ec.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(cidr)})
	})
	w.vpc = *vpc.Vpc.VpcId
	prefix := netip.MustParsePrefix(cidr)
	subnet := func(third byte, az string) string {
		a := prefix.Addr().As4()
		a[2] = third
		out := call(tb, "CreateSubnet", func() (*ec2.CreateSubnetOutput, error) {
			return ec.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: &w.vpc,
				CidrBlock: aws.String(netip.PrefixFrom(netip.AddrFrom4(a), 24).String()), AvailabilityZone: &az})
		})
		return *out.Subnet.SubnetId
	}
	region := ec.Options().Region
	w.subnetA, w.subnetB = subnet(1, region+"a"), subnet(2, region+"b")
	sg := func(name string) string {
		out := call(tb, "CreateSecurityGroup", func() (*ec2.CreateSecurityGroupOutput, error) {
			return ec.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{VpcId: &w.vpc, GroupName: &name,
				Description: aws.String("kinflow awsres test")})
		})
		return *out.GroupId
	}
	w.sgWeb, w.sgDB = sg("web"), sg("db")
	w.web = runInstance(tb, ctx, ec, w.subnetA, "web-1", w.sgWeb)
	w.db = runInstance(tb, ctx, ec, w.subnetB, "db-1", w.sgDB, w.sgWeb)

	assigned := call(tb, "AssignPrivateIpAddresses", func() (*ec2.AssignPrivateIpAddressesOutput, error) {
		return ec.AssignPrivateIpAddresses(ctx, &ec2.AssignPrivateIpAddressesInput{NetworkInterfaceId: &w.web.eni,
			SecondaryPrivateIpAddressCount: aws.Int32(1)})
	})
	if len(assigned.AssignedPrivateIpAddresses) == 1 {
		w.secondary = netip.MustParseAddr(*assigned.AssignedPrivateIpAddresses[0].PrivateIpAddress)
	} else {
		// moto answers without the assigned addresses; read them back.
		out := call(tb, "DescribeNetworkInterfaces", func() (*ec2.DescribeNetworkInterfacesOutput, error) {
			return ec.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{w.web.eni}})
		})
		for _, p := range out.NetworkInterfaces[0].PrivateIpAddresses {
			if !aws.ToBool(p.Primary) {
				w.secondary = netip.MustParseAddr(*p.PrivateIpAddress)
			}
		}
	}
	if !w.secondary.IsValid() {
		tb.Fatal("no secondary private address on", w.web.eni)
	}

	eip := call(tb, "AllocateAddress", func() (*ec2.AllocateAddressOutput, error) {
		return ec.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: types.DomainTypeVpc})
	})
	call(tb, "AssociateAddress", func() (*ec2.AssociateAddressOutput, error) {
		return ec.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: eip.AllocationId,
			NetworkInterfaceId: &w.web.eni})
	})
	w.public = netip.MustParseAddr(*eip.PublicIp)

	alb := call(tb, "CreateNetworkInterface", func() (*ec2.CreateNetworkInterfaceOutput, error) {
		return ec.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: &w.subnetB,
			Description: aws.String("ELB app/shop-frontend/50dc6c495c0c9188"), Groups: []string{w.sgWeb}})
	})
	w.alb = *alb.NetworkInterface.NetworkInterfaceId
	w.albIP = netip.MustParseAddr(*alb.NetworkInterface.PrivateIpAddress)

	// A flow log on subnet A only: web's side of its connections is logged, db's (subnet B) is not.
	call(tb, "CreateFlowLogs", func() (*ec2.CreateFlowLogsOutput, error) {
		return ec.CreateFlowLogs(ctx, &ec2.CreateFlowLogsInput{ResourceType: types.FlowLogsResourceTypeSubnet,
			ResourceIds: []string{w.subnetA}, TrafficType: types.TrafficTypeAll,
			LogDestinationType: types.LogDestinationTypeCloudWatchLogs, LogGroupName: aws.String("/kinflow/awsres-test"),
			DeliverLogsPermissionArn: aws.String("arn:aws:iam::123456789012:role/flowlogs")})
	})
	return w
}

func runInstance(tb testing.TB, ctx context.Context, ec *ec2.Client, subnet, name string, sgs ...string) instance {
	tb.Helper()
	out := call(tb, "RunInstances", func() (*ec2.RunInstancesOutput, error) {
		return ec.RunInstances(ctx, &ec2.RunInstancesInput{
			ImageId: aws.String("ami-12c6146b"), InstanceType: types.InstanceTypeT3Micro,
			MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: &subnet, SecurityGroupIds: sgs,
			TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance,
				Tags: []types.Tag{{Key: aws.String("Name"), Value: &name}, {Key: aws.String("team"), Value: aws.String("x")}}}},
		})
	})
	in := out.Instances[0]
	if len(in.NetworkInterfaces) == 0 {
		tb.Fatalf("instance %s has no interface", *in.InstanceId)
	}
	return instance{id: *in.InstanceId, eni: *in.NetworkInterfaces[0].NetworkInterfaceId,
		ip: netip.MustParseAddr(*in.PrivateIpAddress)}
}

func call[T any](tb testing.TB, what string, f func() (T, error)) T {
	tb.Helper()
	v, err := f()
	if err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
	return v
}

// failing is an EC2API that fails while fail is set: a target whose credentials were revoked, or EC2 throttling.
type failing struct {
	awsres.EC2API
	fail atomic.Bool
}

var errFailing = errors.New("injected EC2 failure")

func (f *failing) DescribeNetworkInterfaces(ctx context.Context, in *ec2.DescribeNetworkInterfacesInput, opts ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error) {
	if f.fail.Load() {
		return nil, errFailing
	}
	return f.EC2API.DescribeNetworkInterfaces(ctx, in, opts...)
}

// TestMotoInventory builds two accounts' worth of VPCs in moto (instances with Name tags, a secondary address, an
// Elastic IP, an ENI described as an ALB's), reads them through the production client factory (assumed roles),
// and checks every address and interface; then that a refresh finds a new instance, and that a failing target
// keeps its previous interfaces while the other target moves on.
func TestMotoInventory(t *testing.T) {
	endpoint := testenv.URL(t, testenv.Moto)
	ctx := testenv.Context(t, 2*time.Minute)
	roleA, roleB := motoAccount(1), motoAccount(2)
	// Both VPCs use the same range: overlapping addresses across accounts are the normal case the index must bear.
	ecA := motoEC2(endpoint, "us-east-1", roleA)
	ecB := motoEC2(endpoint, "eu-west-1", roleB)
	wA := build(t, ctx, ecA, "10.20.0.0/16")
	wB := build(t, ctx, ecB, "10.20.0.0/16")

	cfg := awsres.DefaultConfig()
	cfg.Targets = []awsres.Target{
		{Region: "us-east-1", RoleARN: roleA, ExternalID: "kinflow-test", VPCs: []string{wA.vpc}},
		{Region: "eu-west-1", RoleARN: roleB, VPCs: []string{wB.vpc}},
	}
	prod := awsres.NewClientFactory(testenv.AWSConfig(endpoint))
	clients := map[string]*failing{}
	factory := func(tg awsres.Target) (awsres.EC2API, error) {
		c, err := prod(tg)
		if err != nil {
			return nil, err
		}
		f := &failing{EC2API: c}
		clients[tg.RoleARN] = f
		return f, nil
	}
	r, err := awsres.New(cfg, factory, awsres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Lookup(wA.web.ip); ok {
		t.Fatal("a lookup before the first refresh must miss")
	}
	if err := r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		w             *world
		region, owner string
	}{{wA, "us-east-1", accountOf(roleA)}, {wB, "eu-west-1", accountOf(roleB)}} {
		w := c.w
		dbIDs, dbNames := []string{w.sgDB, w.sgWeb}, []string{"db", "web"}
		if w.sgWeb < w.sgDB {
			dbIDs, dbNames = []string{w.sgWeb, w.sgDB}, []string{"web", "db"}
		}
		want := map[string]awsres.Resource{
			w.web.eni: {ENI: w.web.eni, InterfaceType: "interface", Kind: awsres.KindInstance, Name: "web-1",
				InstanceID: w.web.id, InstanceName: "web-1", SecurityGroupIDs: []string{w.sgWeb},
				SecurityGroupNames: []string{"web"}, SubnetID: w.subnetA, VPCID: w.vpc,
				AvailabilityZone: c.region + "a", OwnerID: c.owner, Region: c.region,
				PrivateIPs: []netip.Addr{w.web.ip, w.secondary}, PublicIPs: []netip.Addr{w.public}, FlowLogged: true},
			w.db.eni: {ENI: w.db.eni, InterfaceType: "interface", Kind: awsres.KindInstance, Name: "db-1",
				InstanceID: w.db.id, InstanceName: "db-1", SecurityGroupIDs: dbIDs,
				SecurityGroupNames: dbNames, SubnetID: w.subnetB, VPCID: w.vpc,
				AvailabilityZone: c.region + "b", OwnerID: c.owner, Region: c.region,
				PrivateIPs: []netip.Addr{w.db.ip}},
			w.alb: {ENI: w.alb, InterfaceType: "interface", Kind: awsres.KindApplicationLoadBalancer,
				Name: "shop-frontend", Description: "ELB app/shop-frontend/50dc6c495c0c9188",
				SecurityGroupIDs: []string{w.sgWeb}, SecurityGroupNames: []string{"web"}, SubnetID: w.subnetB,
				VPCID: w.vpc, AvailabilityZone: c.region + "b", OwnerID: c.owner, Region: c.region,
				PrivateIPs: []netip.Addr{w.albIP}},
		}
		for eni, wantRes := range want {
			got, ok := r.Interface(eni)
			if !ok {
				t.Errorf("%s: interface %s not in the inventory", c.region, eni)
				continue
			}
			// moto writes its own constants where AWS writes the creator: take them as they come.
			wantRes.RequesterID = got.RequesterID
			if wantRes.Kind == awsres.KindInstance {
				wantRes.Description = got.Description
			}
			checkResource(t, got, &wantRes)
			for _, ip := range slices.Concat(wantRes.PrivateIPs, wantRes.PublicIPs) {
				// The private ranges overlap; the VPC decides.
				if byIP, ok := r.LookupVPC(ip, w.vpc); !ok || byIP != got {
					t.Errorf("%s: LookupVPC(%s, %s) = %v, want %s", c.region, ip, w.vpc, byIP, eni)
				}
			}
		}
	}
	// The public addresses are the accounts' own; the first target's answers the shared private ones.
	for _, w := range []*world{wA, wB} {
		if got, ok := r.Lookup(w.public); !ok || got.ENI != w.web.eni {
			t.Errorf("Lookup(%s) = %v, want %s", w.public, got, w.web.eni)
		}
	}
	// What a flow's document says of an interface: one value for its addresses and its id; flow-logged by subnet.
	// (World A only: B's private addresses are A's too, and the first target answers them.)
	en := r.Enrichment()
	for _, w := range []*world{wA} {
		web, byID := en.Address(w.web.ip), en.Interface(w.web.eni)
		if web == nil || web != byID || web.InstanceName != "web-1" || !web.FlowLogged {
			t.Errorf("enrichment of web: by address %+v, by id %+v; want one flow-logged resource named web-1", web, byID)
		}
		if db := en.Interface(w.db.eni); db == nil || db.FlowLogged {
			t.Errorf("enrichment of db: %+v, want one without a flow log (subnet B has none)", db)
		}
	}
	st := r.Stats()
	if st.Interfaces != 6 || st.Dropped != 0 || st.TargetRefreshes != 2 || st.TargetFailures != 0 {
		t.Errorf("stats %+v, want 6 interfaces, nothing dropped, 2 target refreshes", st)
	}

	t.Run("RefreshFindsNewInstance", func(t *testing.T) {
		added := runInstance(t, ctx, ecA, wA.subnetA, "web-2", wA.sgWeb)
		if _, ok := r.Interface(added.eni); ok {
			t.Fatal("the new instance is in the inventory before a refresh")
		}
		if err := r.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		got, ok := r.LookupVPC(added.ip, wA.vpc)
		if !ok || got.InstanceID != added.id || got.Name != "web-2" || got.ENI != added.eni {
			t.Fatalf("LookupVPC(%s) after refresh = %+v, %v", added.ip, got, ok)
		}
	})

	t.Run("FailingTargetKeepsItsPart", func(t *testing.T) {
		before := r.Snapshot()
		clients[roleA].fail.Store(true)
		defer clients[roleA].fail.Store(false)
		addedA := runInstance(t, ctx, ecA, wA.subnetB, "db-2", wA.sgDB)
		addedB := runInstance(t, ctx, ecB, wB.subnetB, "db-2", wB.sgDB)

		err := r.Refresh(ctx)
		var te *awsres.TargetError
		if !errors.As(err, &te) || te.Target.RoleARN != roleA || !errors.Is(err, errFailing) || te.Permanent() {
			t.Fatalf("Refresh = %v, want a transient TargetError of target A", err)
		}
		if r.Snapshot() == before {
			t.Fatal("target B succeeded, the snapshot must be rebuilt")
		}
		if _, ok := r.Interface(addedA.eni); ok {
			t.Error("target A failed, yet its new instance is in the inventory")
		}
		if got, ok := r.Interface(wA.web.eni); !ok || got.InstanceName != "web-1" {
			t.Errorf("target A's previous interfaces must stay: %+v %v", got, ok)
		}
		if got, ok := r.Interface(addedB.eni); !ok || got.Name != "db-2" {
			t.Errorf("target B's new instance: %+v %v", got, ok)
		}

		// Every target failing leaves the very snapshot in place.
		clients[roleB].fail.Store(true)
		defer clients[roleB].fail.Store(false)
		kept := r.Snapshot()
		if err := r.Refresh(ctx); err == nil {
			t.Fatal("Refresh with every target failing returned nil")
		}
		if r.Snapshot() != kept {
			t.Fatal("a refresh in which every target failed replaced the snapshot")
		}
		if st := r.Stats(); st.TargetFailures != 3 {
			t.Errorf("target failures %d, want 3", st.TargetFailures)
		}
	})
}

// TestMotoVPCFilterAndBound: a target restricted to one VPC sees only it, and MaxInterfaces keeps the first N.
func TestMotoVPCFilterAndBound(t *testing.T) {
	endpoint := testenv.URL(t, testenv.Moto)
	ctx := testenv.Context(t, 2*time.Minute)
	role := motoAccount(3)
	ec := motoEC2(endpoint, "us-west-2", role)
	w1 := build(t, ctx, ec, "10.30.0.0/16")
	w2 := build(t, ctx, ec, "10.31.0.0/16")

	cfg := awsres.DefaultConfig()
	cfg.Targets = []awsres.Target{{Region: "us-west-2", RoleARN: role, VPCs: []string{w1.vpc}}}
	r, err := awsres.New(cfg, awsres.NewClientFactory(testenv.AWSConfig(endpoint)), awsres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	r.Snapshot().Range(func(res *awsres.Resource) bool {
		if res.VPCID != w1.vpc {
			t.Errorf("interface %s of VPC %s, want only %s", res.ENI, res.VPCID, w1.vpc)
		}
		return true
	})
	if st := r.Stats(); st.Interfaces != 3 {
		t.Errorf("%d interfaces, want the 3 of %s", st.Interfaces, w1.vpc)
	}

	cfg.Targets[0].VPCs = []string{w1.vpc, w2.vpc}
	cfg.MaxInterfaces = 4
	r, err = awsres.New(cfg, awsres.NewClientFactory(testenv.AWSConfig(endpoint)), awsres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.Interfaces != 4 || st.Dropped != 2 {
		t.Errorf("stats %+v, want 4 interfaces and 2 dropped", st)
	}
}

func accountOf(roleARN string) string { return roleARN[len("arn:aws:iam::") : len("arn:aws:iam::")+12] }
