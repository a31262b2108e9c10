package enrich_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/kinflow/kinflow/internal/enrich"
	"github.com/kinflow/kinflow/internal/enrich/awsres"
	"github.com/kinflow/kinflow/internal/enrich/geoip"
	"github.com/kinflow/kinflow/internal/enrich/threat"
	"github.com/kinflow/kinflow/internal/format/vpcflow"
)

// vpc is an EC2 of n instances' interfaces, 10.0.0.0/16, every one flow-logged.
type vpc struct{ n int }

func (v vpc) eni(i int) string      { return fmt.Sprintf("eni-%017x", i) }
func (v vpc) addr(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}) }

func (v vpc) DescribeNetworkInterfaces(context.Context, *ec2.DescribeNetworkInterfacesInput, ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error) {
	out := &ec2.DescribeNetworkInterfacesOutput{}
	for i := range v.n {
		out.NetworkInterfaces = append(out.NetworkInterfaces, ec2types.NetworkInterface{
			NetworkInterfaceId: aws.String(v.eni(i)), InterfaceType: ec2types.NetworkInterfaceTypeInterface,
			PrivateIpAddress: aws.String(v.addr(i).String()), SubnetId: aws.String("subnet-01"), VpcId: aws.String("vpc-01"),
			OwnerId:    aws.String("123456789012"),
			Attachment: &ec2types.NetworkInterfaceAttachment{InstanceId: aws.String(fmt.Sprintf("i-%017x", i))},
			Groups:     []ec2types.GroupIdentifier{{GroupId: aws.String("sg-01"), GroupName: aws.String("web")}},
			PrivateIpAddresses: []ec2types.NetworkInterfacePrivateIpAddress{{PrivateIpAddress: aws.String(v.addr(i).String()),
				Primary: aws.Bool(true)}},
		})
	}
	return out, nil
}

func (v vpc) DescribeTags(context.Context, *ec2.DescribeTagsInput, ...func(*ec2.Options)) (*ec2.DescribeTagsOutput, error) {
	return &ec2.DescribeTagsOutput{}, nil
}

func (v vpc) DescribeFlowLogs(context.Context, *ec2.DescribeFlowLogsInput, ...func(*ec2.Options)) (*ec2.DescribeFlowLogsOutput, error) {
	return &ec2.DescribeFlowLogsOutput{FlowLogs: []ec2types.FlowLog{{ResourceId: aws.String("vpc-01"), FlowLogStatus: aws.String("ACTIVE")}}}, nil
}

// public is the i-th public address of the benchmark's internet: 4,096 /24 networks the GeoIP databases know.
func public(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{81, byte(i >> 12), byte(i >> 4), byte(1 + i%200)})
}

func mmdb(b *testing.B, kind string, networks int) []byte {
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: kind, RecordSize: 28})
	if err != nil {
		b.Fatal(err)
	}
	for i := range networks {
		p := public(i << 4)
		_, n, _ := net.ParseCIDR(netip.PrefixFrom(p, 24).Masked().String())
		var rec mmdbtype.Map
		if kind == "GeoLite2-ASN" {
			rec = mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(64500 + i%500), "autonomous_system_organization": mmdbtype.String(fmt.Sprint("AS org ", i%500))}
		} else {
			rec = mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String([]string{"NL", "DE", "US", "JP"}[i%4]),
				"names": mmdbtype.Map{"en": mmdbtype.String("Country")}}, "city": mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(fmt.Sprint("City ", i%100))}}}
		}
		if err := w.Insert(n, rec); err != nil {
			b.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkEnrich measures what enrichment adds to a flow, beside the decode+parse path of the same flows in one
// run: the lookups (Fill: the interface inventory of 10,000 interfaces, City and ASN databases of 4,096 networks,
// a threat set of 100,000 prefixes) and the enriched document against the plain one. Flows: 60% between two
// internal hosts, 40% with a public address, nine in ten among 500 busy hosts; 1% of the public addresses are
// listed. Hit rates are reported (-v), of the sources and of the cache.
func BenchmarkEnrich(b *testing.B) {
	ctx := context.Background()
	inv := vpc{n: 10000}
	cfg := awsres.DefaultConfig()
	cfg.Targets = []awsres.Target{{Region: "us-east-1"}}
	res, err := awsres.New(cfg, func(awsres.Target) (awsres.EC2API, error) { return inv, nil }, awsres.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	if err := res.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	gcfg := geoip.DefaultConfig()
	gcfg.ReloadInterval = 0
	gcfg.City = geoip.Database{Name: "city", Load: geoip.Bytes(mmdb(b, "GeoLite2-City", 4096))}
	gcfg.ASN = geoip.Database{Name: "asn", Load: geoip.Bytes(mmdb(b, "GeoLite2-ASN", 4096))}
	db, err := geoip.New(ctx, gcfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	var list strings.Builder
	for i := range 100000 {
		if i%100 == 0 {
			fmt.Fprintf(&list, "%s\n", public(r.IntN(65536)))
		} else {
			fmt.Fprintf(&list, "%d.%d.%d.0/24\n", 100+r.IntN(100), r.IntN(256), r.IntN(256))
		}
	}
	path := filepath.Join(b.TempDir(), "list.txt")
	os.WriteFile(path, []byte(list.String()), 0o644)
	tcfg := threat.DefaultConfig()
	tcfg.Sources = []threat.Source{{Name: "bench", Path: path}}
	lists, err := threat.NewReloader(tcfg, threat.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := lists.Reload(ctx); err != nil {
		b.Fatal(err)
	}
	e := enrich.New(res.Enrichment(), db.Enrichment(), lists.Enrichment())

	const flows = 4096
	lines := make([]string, flows)
	type flow struct {
		src, dst netip.Addr
		eni      string
	}
	fs := make([]flow, flows)
	// Traffic is skewed, as a VPC's is: nine flows in ten between 500 busy hosts (and 500 busy public peers), the
	// rest anywhere.
	pick := func(n int) int {
		if r.IntN(10) < 9 {
			return r.IntN(500)
		}
		return r.IntN(n)
	}
	for i := range fs {
		a, c := pick(inv.n), pick(inv.n)
		f := flow{src: inv.addr(a), dst: inv.addr(c), eni: inv.eni(a)}
		if r.IntN(10) < 4 {
			f.src = public(pick(65536))
			f.eni = inv.eni(c)
		}
		fs[i] = f
		lines[i] = fmt.Sprintf("2 123456789012 %s %s %s 40000 443 6 10 5000 1795435200 1795435260 ACCEPT OK", f.eni, f.src, f.dst)
	}
	parser, err := vpcflow.NewParser(vpcflow.DefaultFormat())
	if err != nil {
		b.Fatal(err)
	}
	var (
		fl  vpcflow.Flow
		src vpcflow.Source
		x   enrich.Context
		enc vpcflow.Encoder
		buf = make([]byte, 0, 8192)
	)
	var hits [4]int // resources, geo, threats, ends looked up
	for _, f := range fs {
		got := e.Fill(&x, f.src, f.dst, f.eni)
		for _, end := range []*enrich.End{&got.Source, &got.Destination} {
			hits[3]++
			if end.Resource != nil {
				hits[0]++
			}
			if end.Geo.Known() {
				hits[1]++
			}
			if end.Threat.Matched() {
				hits[2]++
			}
		}
	}
	b.Logf("hit rates per address: resource %.2f, geo %.2f, threat %.4f", float64(hits[0])/float64(hits[3]),
		float64(hits[1])/float64(hits[3]), float64(hits[2])/float64(hits[3]))
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := parser.Parse(&fl, &src, lines[i%flows]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("fill", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			f := &fs[i%flows]
			e.Fill(&x, f.src, f.dst, f.eni)
			i++
		}
	})
	b.Run("fill-cached", func(b *testing.B) {
		b.ReportAllocs()
		c := e.NewCache()
		i := 0
		for b.Loop() {
			f := &fs[i%flows]
			c.Fill(&x, f.src, f.dst, f.eni)
			i++
		}
		b.ReportMetric(c.HitRate(), "cache-hits")
	})
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		parser.Parse(&fl, &src, lines[0])
		for b.Loop() {
			buf = enc.AppendDocument(buf[:0], &fl, &src)
		}
	})
	b.Run("fill+encode", func(b *testing.B) {
		b.ReportAllocs()
		parser.Parse(&fl, &src, lines[0])
		for b.Loop() {
			buf = enc.AppendDocumentWith(buf[:0], &fl, &src, e.Fill(&x, fl.SrcAddr, fl.DstAddr, fl.InterfaceID))
		}
	})
}
