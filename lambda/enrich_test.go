package main

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/kinflow/kinflow/internal/testing/flowgen"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// cityDB writes a small GeoLite2-City-shaped database: one public network in the Netherlands.
func cityDB(t *testing.T, path, cidr string) {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-City", RecordSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	_, n, _ := net.ParseCIDR(cidr)
	names := func(en string) mmdbtype.Map { return mmdbtype.Map{"en": mmdbtype.String(en)} }
	if err := w.Insert(n, mmdbtype.Map{
		"continent": mmdbtype.Map{"code": mmdbtype.String("EU"), "names": names("Europe")},
		"country":   mmdbtype.Map{"iso_code": mmdbtype.String("NL"), "names": names("Netherlands")},
		"city":      mmdbtype.Map{"names": names("Amsterdam")},
	}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := w.WriteTo(f); err != nil {
		t.Fatal(err)
	}
}

// TestEnrichedObjects runs the objects function with every enrichment configured as a user would (settings only):
// the VPC's instances from moto's EC2, a GeoIP database and a threat list from files. A flow-log file of
// connections between two instances, logged by both, and from a listed public address: every document names the
// instances and the logging interface's instance, the public address's country and its list; and the connection
// logged twice counts once in the connection sets.
func TestEnrichedObjects(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "kinflow-test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "kinflow-test")
	moto := testenv.URL(t, testenv.Moto)
	ctx := testenv.Context(t, 2*time.Minute)
	ec := ec2.NewFromConfig(testenv.AWSConfig(moto))
	// moto keeps its EC2 state for as long as it runs, and the inventory reads the whole account: a range of its
	// own for each run, so that no earlier run's instance holds these addresses.
	h := fnv.New32a()
	h.Write([]byte(testenv.UniqueName(t, "vpc")))
	octets := h.Sum32()
	cidr := fmt.Sprintf("10.%d.%d.0/24", 100+octets%150, (octets>>8)%256)
	vpc, err := ec.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(cidr)})
	if err != nil {
		t.Fatal(err)
	}
	subnet, err := ec.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String(cidr)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ec.CreateFlowLogs(ctx, &ec2.CreateFlowLogsInput{ResourceType: ec2types.FlowLogsResourceTypeSubnet,
		ResourceIds: []string{*subnet.Subnet.SubnetId}, TrafficType: ec2types.TrafficTypeAll,
		LogDestinationType: ec2types.LogDestinationTypeCloudWatchLogs, LogGroupName: aws.String("/kinflow/enrich-test"),
		DeliverLogsPermissionArn: aws.String("arn:aws:iam::123456789012:role/flowlogs")}); err != nil {
		t.Fatal(err)
	}
	type host struct{ id, eni, ip string }
	run := func(name string) host {
		out, err := ec.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12c6146b"), MinCount: aws.Int32(1),
			MaxCount: aws.Int32(1), SubnetId: subnet.Subnet.SubnetId, TagSpecifications: []ec2types.TagSpecification{{
				ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String(name)}}}}})
		if err != nil {
			t.Fatal(err)
		}
		in := out.Instances[0]
		return host{*in.InstanceId, *in.NetworkInterfaces[0].NetworkInterfaceId, *in.PrivateIpAddress}
	}
	web, db := run("web-enrich"), run("db-enrich")

	dir := t.TempDir()
	cityDB(t, filepath.Join(dir, "city.mmdb"), "81.2.69.0/24")
	os.WriteFile(filepath.Join(dir, "list.txt"), []byte("# test list\n81.2.69.142 # a scanner\n"), 0o644)

	start := testenv.Now(t).Add(-48 * time.Hour).Truncate(time.Hour).Unix()
	lines := []string{
		// web -> db on 5432, logged by both interfaces: one connection.
		fmt.Sprintf("2 123456789012 %s %s %s 40000 5432 6 10 5000 %d %d ACCEPT OK", web.eni, web.ip, db.ip, start, start+30),
		fmt.Sprintf("2 123456789012 %s %s %s 40000 5432 6 10 5000 %d %d ACCEPT OK", db.eni, web.ip, db.ip, start, start+30),
		// A listed public address probes web.
		fmt.Sprintf("2 123456789012 %s 81.2.69.142 %s 51515 22 6 1 40 %d %d REJECT OK", web.eni, web.ip, start+60, start+90),
	}
	nb := testenv.NewNotifiedBucket(t)
	nb.Put(t, "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/23/123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20261123T1200Z_0000abcd.log.gz", flowgen.S3FileOf(lines))
	// moto announces the notification's configuration with S3's test event first: the handler skips it.
	var records []events.SQSMessage
	for found := false; !found; {
		msgs := nb.Messages(t, 10, time.Minute)
		if len(msgs) == 0 {
			t.Fatal("no notification of the object")
		}
		for _, m := range msgs {
			found = found || strings.Contains(aws.ToString(m.Body), ".log.gz")
			records = append(records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), EventSourceARN: nb.QueueARN})
		}
	}

	c := newCluster(t)
	env := map[string]string{
		"AWS_REGION": testenv.Region, "KINFLOW_SINK_URL": testenv.URL(t, testenv.Elasticsearch),
		"KINFLOW_INDEX_PREFIX": c.prefix, "KINFLOW_LAMBDA_HANDLER": "objects", "KINFLOW_S3_ENDPOINT": moto,
		"KINFLOW_EC2_ENDPOINT": moto, "KINFLOW_ENRICH_AWS": "true", "KINFLOW_GEOIP_CITY": filepath.Join(dir, "city.mmdb"),
		"KINFLOW_THREAT_LISTS": "scanners=" + filepath.Join(dir, "list.txt"),
	}
	a := newApp(envLookup(env), slog.New(slog.DiscardHandler))
	resp, err := a.handleSQS(ctx, events.SQSEvent{Records: records})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("%+v, %v", resp, err)
	}
	esURL := testenv.URL(t, testenv.Elasticsearch)
	docs := testenv.Sources(t, esURL, c.prefix+"-flows-*")
	if len(docs) != 3 {
		t.Fatalf("%d flow documents, want 3", len(docs))
	}
	type doc struct {
		Source struct {
			IP  string `json:"ip"`
			Geo struct {
				Country string `json:"country_iso_code"`
				City    string `json:"city_name"`
			} `json:"geo"`
		} `json:"source"`
		Cloud struct {
			Instance struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"instance"`
		} `json:"cloud"`
		AWS struct {
			Source struct {
				Instance struct {
					Name string `json:"name"`
				} `json:"instance"`
			} `json:"source"`
			Destination struct {
				Instance struct {
					Name string `json:"name"`
				} `json:"instance"`
				VPCID string `json:"vpc_id"`
			} `json:"destination"`
		} `json:"aws"`
		Threat struct {
			Enrichments struct {
				Indicator struct {
					Provider []string `json:"provider"`
				} `json:"indicator"`
			} `json:"enrichments"`
		} `json:"threat"`
	}
	loggers := map[string]int{}
	for _, raw := range docs {
		var d doc
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		loggers[d.Cloud.Instance.Name]++
		switch d.Source.IP {
		case web.ip:
			if d.AWS.Source.Instance.Name != "web-enrich" || d.AWS.Destination.Instance.Name != "db-enrich" || d.AWS.Destination.VPCID != *vpc.Vpc.VpcId {
				t.Errorf("web -> db: %s", raw)
			}
		case "81.2.69.142":
			if d.Source.Geo.Country != "NL" || d.Source.Geo.City != "Amsterdam" || d.AWS.Destination.Instance.Name != "web-enrich" ||
				len(d.Threat.Enrichments.Indicator.Provider) != 1 || d.Threat.Enrichments.Indicator.Provider[0] != "scanners" {
				t.Errorf("the probe: %s", raw)
			}
		default:
			t.Errorf("unexpected document %s", raw)
		}
	}
	if loggers["web-enrich"] != 2 || loggers["db-enrich"] != 1 {
		t.Errorf("logging instances %v, want web-enrich twice and db-enrich once", loggers)
	}
	// The connection web -> db is counted once: web sent one flow, db received one.
	for _, raw := range testenv.Sources(t, esURL, c.prefix+"-conns-partial-*") {
		var p struct {
			IP    string `json:"ip"`
			Flows struct {
				Sent, Received int
			} `json:"flows"`
		}
		json.Unmarshal(raw, &p)
		if p.IP == db.ip && p.Flows.Received != 1 {
			t.Errorf("db received %d flows in the connection sets, want 1 (the connection was logged twice)", p.Flows.Received)
		}
	}
}
