package s3obj

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRouteAWSLayouts(t *testing.T) {
	r := newRouter(t, DefaultConfig())
	for name, tc := range map[string]struct {
		key  string
		want Route
	}{
		"flow log": {
			"AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/05/01/123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20240501T1005Z_fe123456.log.gz",
			Route{Kind: KindVPCFlow, Layout: LayoutAWS, Account: "123456789012", Region: "us-east-1", ResourceID: "fl-1234abcd", EndTime: "20240501T1005Z", Compressed: true},
		},
		"flow log with prefix and hourly partition": {
			"prod network/logs/AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/05/01/10/123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20240501T1005Z_fe123456.log.gz",
			Route{Kind: KindVPCFlow, Layout: LayoutAWS, Prefix: "prod network/logs", Account: "123456789012", Region: "us-east-1", ResourceID: "fl-1234abcd", EndTime: "20240501T1005Z", Compressed: true},
		},
		"flow log parquet": {
			"AWSLogs/123456789012/vpcflowlogs/eu-west-1/2024/05/01/123456789012_vpcflowlogs_eu-west-1_fl-1234abcd_20240501T1005Z_fe123456.log.parquet",
			Route{Kind: KindVPCFlowParquet, Layout: LayoutAWS, Account: "123456789012", Region: "eu-west-1", ResourceID: "fl-1234abcd", EndTime: "20240501T1005Z"},
		},
		"flow log hive": {
			"x/AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2024/month=05/day=01/123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20240501T1005Z_fe123456.log.gz",
			Route{Kind: KindVPCFlow, Layout: LayoutAWSHive, Prefix: "x", Account: "123456789012", Region: "us-east-1", ResourceID: "fl-1234abcd", EndTime: "20240501T1005Z", Compressed: true},
		},
		"flow log hive hourly parquet": {
			"AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2024/month=05/day=01/hour=10/123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20240501T1005Z_fe123456.log.parquet",
			Route{Kind: KindVPCFlowParquet, Layout: LayoutAWSHive, Account: "123456789012", Region: "us-east-1", ResourceID: "fl-1234abcd", EndTime: "20240501T1005Z"},
		},
		"alb": {
			"my-app/AWSLogs/123456789012/elasticloadbalancing/us-east-2/2022/02/15/123456789012_elasticloadbalancing_us-east-2_app.my-loadbalancer.1234567890abcdef_20220215T2340Z_172.160.001.192_20sg8hgm.log.gz",
			Route{Kind: KindALB, Layout: LayoutAWS, Prefix: "my-app", Account: "123456789012", Region: "us-east-2", ResourceID: "app.my-loadbalancer.1234567890abcdef", EndTime: "20220215T2340Z", Compressed: true},
		},
		"alb connection log": {
			"AWSLogs/123456789012/elasticloadbalancing/eu-central-1/2024/02/07/conn_log_123456789012_elasticloadbalancing_eu-central-1_app.my-lb.5ede558f4b0e97a9_20240207T0955Z_10.43.1.2_b38hdhc6.log.gz",
			Route{Kind: KindALBConnection, Layout: LayoutAWS, Account: "123456789012", Region: "eu-central-1", ResourceID: "app.my-lb.5ede558f4b0e97a9", EndTime: "20240207T0955Z", Compressed: true},
		},
		"alb connection log as documented": {
			"AWSLogs/123456789012/elasticloadbalancing/eu-central-1/2024/02/07/conn_log.123456789012_elasticloadbalancing_eu-central-1_app.my-lb.5ede558f4b0e97a9_20240207T0955Z_10.43.1.2_b38hdhc6.log.gz",
			Route{Kind: KindALBConnection, Layout: LayoutAWS, Account: "123456789012", Region: "eu-central-1", ResourceID: "app.my-lb.5ede558f4b0e97a9", EndTime: "20240207T0955Z", Compressed: true},
		},
		"nlb": {
			"AWSLogs/123456789012/elasticloadbalancing/us-east-2/2020/10/20/123456789012_elasticloadbalancing_us-east-2_net.my-loadbalancer.1234567890abcdef_20201020T2340Z_20sg8hgm.log.gz",
			Route{Kind: KindNLB, Layout: LayoutAWS, Account: "123456789012", Region: "us-east-2", ResourceID: "net.my-loadbalancer.1234567890abcdef", EndTime: "20201020T2340Z", Compressed: true},
		},
		"classic elb": {
			"my-app/prod/AWSLogs/123456789012/elasticloadbalancing/us-west-2/2014/02/15/123456789012_elasticloadbalancing_us-west-2_my-loadbalancer_20140215T2340Z_172.160.001.192_20sg8hgm.log",
			Route{Kind: KindELB, Layout: LayoutAWS, Prefix: "my-app/prod", Account: "123456789012", Region: "us-west-2", ResourceID: "my-loadbalancer", EndTime: "20140215T2340Z"},
		},
		"classic elb without random part": {
			"AWSLogs/123456789012/elasticloadbalancing/us-west-2/2014/02/15/123456789012_elasticloadbalancing_us-west-2_my-loadbalancer_20140215T2340Z_172.160.001.192.log",
			Route{Kind: KindELB, Layout: LayoutAWS, Account: "123456789012", Region: "us-west-2", ResourceID: "my-loadbalancer", EndTime: "20140215T2340Z"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := r.Route("bucket", tc.key)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestRouteUnknownLayout(t *testing.T) {
	r := newRouter(t, DefaultConfig())
	for name, key := range map[string]string{
		"no AWSLogs":          "logs/2024/05/01/file.log.gz",
		"AWSLogs inside name": "xAWSLogs/123456789012/vpcflowlogs/us-east-1/2024/05/01/123456789012_vpcflowlogs_us-east-1_fl-1_20240501T1005Z_fe.log.gz",
		"short account":       "AWSLogs/12345/vpcflowlogs/us-east-1/2024/05/01/12345_vpcflowlogs_us-east-1_fl-1_20240501T1005Z_fe.log.gz",
		"other service":       "AWSLogs/123456789012/CloudTrail/us-east-1/2024/05/01/123456789012_CloudTrail_us-east-1_20240501T1005Z_abc.json.gz",
		"account mismatch":    "AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/05/01/210987654321_vpcflowlogs_us-east-1_fl-1_20240501T1005Z_fe.log.gz",
		"region mismatch":     "AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/05/01/123456789012_vpcflowlogs_eu-west-1_fl-1_20240501T1005Z_fe.log.gz",
		"bad time":            "AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/05/01/123456789012_vpcflowlogs_us-east-1_fl-1_2024050110Z_fe.log.gz",
		"bad extension":       "AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/05/01/123456789012_vpcflowlogs_us-east-1_fl-1_20240501T1005Z_fe.txt",
		"digest file":         "AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/05/01/readme.txt",
		"bad date":            "AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/5/01/123456789012_vpcflowlogs_us-east-1_fl-1_20240501T1005Z_fe.log.gz",
		"nlb with ip":         "AWSLogs/123456789012/elasticloadbalancing/us-east-2/2020/10/20/123456789012_elasticloadbalancing_us-east-2_net.lb.1234_20201020T2340Z_10.0.0.1_20sg8hgm.log.gz",
		"gateway lb":          "AWSLogs/123456789012/elasticloadbalancing/us-east-2/2020/10/20/123456789012_elasticloadbalancing_us-east-2_gwy.lb.1234_20201020T2340Z_10.0.0.1_20sg8hgm.log.gz",
		"elb hour folder":     "AWSLogs/123456789012/elasticloadbalancing/us-east-2/2020/10/20/23/123456789012_elasticloadbalancing_us-east-2_app.lb.1234_20201020T2340Z_10.0.0.1_x.log.gz",
		"hive wrong order":    "AWSLogs/aws-account-id=123456789012/aws-region=us-east-1/aws-service=vpcflowlogs/year=2024/month=05/day=01/123456789012_vpcflowlogs_us-east-1_fl-1_20240501T1005Z_fe.log.gz",
		"empty":               "",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := r.Route("my-bucket", key)
			var e *Error
			if !errors.As(err, &e) || e.Reason != ReasonUnknownLayout || !errors.Is(err, ErrUnknownLayout) || !e.Permanent() {
				t.Fatalf("got %v, want a permanent unknown_layout *Error", err)
			}
			if e.Bucket != "my-bucket" || e.Key != key || !strings.Contains(err.Error(), "s3://my-bucket/"+key) {
				t.Errorf("error %q does not name bucket and key", err)
			}
		})
	}
}

func TestRouteOverrides(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Overrides = []Override{
		{Bucket: "*", Prefix: "copied/", Kind: KindVPCFlow},
		{Bucket: "*", Prefix: "copied/alb/", Kind: KindALB},
		{Bucket: "special", Prefix: "copied/alb/", Kind: KindALBConnection},
		{Bucket: "nlb-only", Prefix: "", Kind: KindNLB},
	}
	r := newRouter(t, cfg)
	const flowKey = "AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/05/01/123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20240501T1005Z_fe123456.log.gz"
	for name, tc := range map[string]struct {
		bucket, key string
		kind        Kind
		layout      Layout
		account     string
	}{
		"prefix":                      {"b", "copied/x.gz", KindVPCFlow, LayoutOverride, ""},
		"longest prefix wins":         {"b", "copied/alb/x.gz", KindALB, LayoutOverride, ""},
		"exact bucket beats wildcard": {"special", "copied/alb/x.gz", KindALBConnection, LayoutOverride, ""},
		"whole bucket":                {"nlb-only", "anything", KindNLB, LayoutOverride, ""},
		"override keeps parsed parts": {"nlb-only", flowKey, KindNLB, LayoutOverride, "123456789012"},
		"no override: AWS layout":     {"b", flowKey, KindVPCFlow, LayoutAWS, "123456789012"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := r.Route(tc.bucket, tc.key)
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind != tc.kind || got.Layout != tc.layout || got.Account != tc.account {
				t.Errorf("got %+v, want kind %s layout %s account %q", got, tc.kind, tc.layout, tc.account)
			}
		})
	}
}

func TestConfigValidateReportsEverything(t *testing.T) {
	cfg := Config{
		MaxLineBytes: 10, ReadBufferBytes: 1, MaxReopens: -1,
		Overrides: []Override{
			{Bucket: "", Prefix: "/a", Kind: "csv"},
			{Bucket: "b*", Prefix: "p", Kind: KindALB},
			{Bucket: "b", Prefix: "p", Kind: KindALB},
			{Bucket: "b", Prefix: "p", Kind: KindNLB},
		},
	}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"MaxLineBytes 10", "ReadBufferBytes 1", "MaxReopens -1", "ReopenBackoff",
		"Overrides[0]: Bucket is empty", `Overrides[0]: Prefix "/a"`, `Overrides[0]: Kind "csv": allowed vpcflow, vpcflow-parquet, alb, alb-connection, nlb, elb`,
		`Overrides[1]: Bucket "b*"`, "Overrides[3]: same bucket"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := NewRouter(cfg); err == nil {
		t.Error("NewRouter accepted a bad config")
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig: %v", err)
	}
}

func TestRouteAllocs(t *testing.T) {
	r := newRouter(t, DefaultConfig())
	const key = "AWSLogs/123456789012/elasticloadbalancing/us-east-2/2022/02/15/123456789012_elasticloadbalancing_us-east-2_app.my-loadbalancer.1234567890abcdef_20220215T2340Z_172.160.001.192_20sg8hgm.log.gz"
	if n := testing.AllocsPerRun(100, func() { _, _ = r.Route("b", key) }); n != 0 {
		t.Errorf("Route allocates %v times per key, want 0", n)
	}
}

func newRouter(tb testing.TB, cfg Config) *Router {
	tb.Helper()
	r, err := NewRouter(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}
