package kinflowstack

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	testEnrichRoleA = "arn:aws:iam::210987654321:role/kinflow-enrich"
	testEnrichRoleB = "arn:aws:iam::109876543210:role/ops/kinflow-enrich"
)

// enrichProps adds enrichment: EC2 through two roles of other accounts, both GeoIP databases and two threat lists
// from S3 (one object under a prefix).
func enrichProps(c EnrichConfig) EnrichConfig {
	c.AWS = true
	c.Roles = []string{testEnrichRoleA, testEnrichRoleB}
	c.GeoIPCity = "s3://geo-data/GeoLite2-City.mmdb"
	c.GeoIPASN = "s3://geo-data/GeoLite2-ASN.mmdb"
	c.ThreatLists = map[string]string{"feodo": "s3://intel/feodo.csv", "drop": "s3://intel/lists/drop.txt"}
	return c
}

// wantEnrichObjects are the resources of s3:GetObject of enrichProps' sources: exactly those four objects.
var wantEnrichObjects = []any{
	map[string]any{"Fn::Sub": "arn:${AWS::Partition}:s3:::geo-data/GeoLite2-ASN.mmdb"},
	map[string]any{"Fn::Sub": "arn:${AWS::Partition}:s3:::geo-data/GeoLite2-City.mmdb"},
	map[string]any{"Fn::Sub": "arn:${AWS::Partition}:s3:::intel/feodo.csv"},
	map[string]any{"Fn::Sub": "arn:${AWS::Partition}:s3:::intel/lists/drop.txt"},
}

// enrichSids are the statements of the enrichment grants.
var enrichSids = []string{"DescribeVpcResources", "AssumeEnrichRoles", "ReadEnrichObjects"}

// enrichStatements returns the enrichment statements of the policies whose logical id starts with prefix, by Sid.
func enrichStatements(tpl *template, prefix string) map[string]statement {
	out := map[string]statement{}
	for _, s := range tpl.statements() {
		if strings.HasPrefix(s.Policy, prefix) && slices.Contains(enrichSids, s.Sid) {
			out[s.Sid] = s
		}
	}
	return out
}

// checkEnrichGrants: the role's enrichment statements are exactly these actions on these resources, the EC2
// reads bounded to regions.
func checkEnrichGrants(t *testing.T, tpl *template, role string, regions []any, objects []any) {
	t.Helper()
	got := map[string]any{}
	for sid, s := range enrichStatements(tpl, role) {
		got[sid] = map[string]any{"Actions": s.Actions, "Resource": s.Resource, "Condition": s.raw["Condition"], "Effect": s.raw["Effect"]}
	}
	want := map[string]any{
		"DescribeVpcResources": map[string]any{
			"Actions":   []string{"ec2:DescribeNetworkInterfaces", "ec2:DescribeTags", "ec2:DescribeFlowLogs"},
			"Resource":  []any{"*"},
			"Condition": map[string]any{"StringEquals": map[string]any{"aws:RequestedRegion": regions}},
			"Effect":    "Allow",
		},
		"AssumeEnrichRoles": map[string]any{
			"Actions": []string{"sts:AssumeRole"}, "Resource": []any{testEnrichRoleA, testEnrichRoleB}, "Condition": nil, "Effect": "Allow",
		},
		"ReadEnrichObjects": map[string]any{
			"Actions": []string{"s3:GetObject"}, "Resource": objects, "Condition": nil, "Effect": "Allow",
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s enrichment statements (-want +got):\n%s", role, d)
	}
	// Nothing else of the role's may call them.
	for _, a := range []string{"ec2:DescribeNetworkInterfaces", "sts:AssumeRole"} {
		if n := len(tpl.grants(role, a)); n != 1 {
			t.Errorf("%s: %d statements allow %s, want 1", role, n, a)
		}
	}
}

// checkEnrichEnv: the variables of enrichProps, as the runtimes read them.
func checkEnrichEnv(t *testing.T, what string, e map[string]any, regions string) {
	t.Helper()
	want := map[string]any{
		EnvEnrichAWS:      "true",
		EnvEnrichAWSRoles: testEnrichRoleA + "," + testEnrichRoleB,
		EnvEnrichRefresh:  "5m0s",
		EnvGeoIPCity:      "s3://geo-data/GeoLite2-City.mmdb",
		EnvGeoIPASN:       "s3://geo-data/GeoLite2-ASN.mmdb",
		EnvThreatLists:    "drop=s3://intel/lists/drop.txt;feodo=s3://intel/feodo.csv",
	}
	if regions != "" {
		want[EnvEnrichAWSRegions] = regions
	}
	if strings.Contains(jsonString(e), "/opt/lists/local.txt") {
		want[EnvThreatLists] = "drop=s3://intel/lists/drop.txt;feodo=s3://intel/feodo.csv;local=/opt/lists/local.txt"
	}
	got := map[string]any{}
	for _, name := range PipelineOnlyEnv {
		if v, ok := e[name]; ok {
			got[name] = v
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s enrichment environment (-want +got):\n%s", what, d)
	}
}

// checkNoEnrich: without enrichment, no runtime gets its variables and no role its grants.
func checkNoEnrich(t *testing.T, tpl *template) {
	t.Helper()
	for _, s := range tpl.statements() {
		if slices.Contains(enrichSids, s.Sid) || slices.ContainsFunc(s.Actions, func(a string) bool {
			return slices.Contains(enrichEC2Actions, a) || a == "sts:AssumeRole"
		}) {
			t.Errorf("%s: %s %v without enrichment", s.Policy, s.Sid, s.Actions)
		}
	}
	var envs []map[string]any
	for _, r := range tpl.resources("AWS::Lambda::Function") {
		if p := r["Properties"].(map[string]any); p["Environment"] != nil {
			envs = append(envs, env(t, p))
		}
	}
	if tpl.count("AWS::ECS::TaskDefinition") == 1 {
		envs = append(envs, containerEnv(t, tpl))
	}
	for _, e := range envs {
		for _, name := range PipelineOnlyEnv {
			if v, ok := e[name]; ok {
				t.Errorf("%s=%v without enrichment", name, v)
			}
		}
	}
}

// Lambda mode: the batch and objects functions enrich, each under its own role; the finalizer gets neither the
// variables nor the grants.
func checkLambdaEnrich(t *testing.T, tpl *template, k *KinflowStack) {
	t.Helper()
	thisRegion := []any{map[string]any{"Ref": "AWS::Region"}}
	for _, h := range []struct{ handler, role string }{{"batch", "LambdaBatchRole"}, {"objects", "LambdaObjectsRole"}} {
		checkEnrichEnv(t, h.handler, env(t, lambdaFunction(t, tpl, h.handler)), "")
		checkEnrichGrants(t, tpl, h.role, thisRegion, wantEnrichObjects)
	}
	fin := env(t, lambdaFunction(t, tpl, "finalizer"))
	for _, name := range PipelineOnlyEnv {
		if v, ok := fin[name]; ok {
			t.Errorf("the finalizer enriches nothing, but has %s=%v", name, v)
		}
	}
	if got := enrichStatements(tpl, "LambdaFinalizerRole"); len(got) != 0 {
		t.Errorf("the finalizer enriches nothing, but its role has %v", got)
	}
	// The objects role reads the intake's objects as before, and the enrichment objects beside them.
	if d := cmp.Diff([]string{`{"Fn::Sub":"arn:${AWS::Partition}:s3:::corp-logs/*"}`}, tpl.grantedResources(func(a string) bool { return a != "s3:GetObjectVersion" }, "LambdaObjectsRole")["s3:GetObjectVersion"]); d != "" {
		t.Errorf("objects role s3:GetObjectVersion (-want +got):\n%s", d)
	}
}

// Consumer mode: the task enriches, in the regions given, with a list from its image that is granted nothing.
func checkConsumerEnrich(t *testing.T, tpl *template, k *KinflowStack) {
	t.Helper()
	checkConsumer(t, tpl, 4, false)
	checkEnrichEnv(t, "consumer", containerEnv(t, tpl), "eu-west-1,us-east-1")
	checkEnrichGrants(t, tpl, "ConsumerTaskRole", []any{"eu-west-1", "us-east-1"}, wantEnrichObjects)
}

// With a new domain the functions share one role: it holds the grants once.
func TestEnrichSharedRole(t *testing.T) {
	p := lambdaProps(t)
	p.Sink = SinkConfig{Kind: SinkOpenSearch, NewDomain: ptr(DefaultDomain())}
	p.S3.Sources = []S3Source{{Bucket: testBucket}}
	p.Enrich = enrichProps(p.Enrich)
	tpl := templateOf(t, must(build(t, p, "")))
	checkEnrichGrants(t, tpl, "LambdaRole", []any{map[string]any{"Ref": "AWS::Region"}}, wantEnrichObjects)
	checkEnrichEnv(t, "objects", env(t, lambdaFunction(t, tpl, "objects")), "")
	checkLeastPrivilege(t, tpl)
}

// Only a GeoIP database: its object, no EC2 and no roles.
func TestEnrichGeoIPOnly(t *testing.T) {
	p := consumerProps(t)
	p.Enrich.GeoIPASN = "s3://geo-data/asn/GeoLite2-ASN.mmdb"
	p.Enrich.ThreatLists = map[string]string{"local": "/opt/lists/local.txt"}
	tpl := templateOf(t, must(build(t, p, "")))
	got := enrichStatements(tpl, "ConsumerTaskRole")
	if len(got) != 1 || jsonString(got["ReadEnrichObjects"].Resource) != `[{"Fn::Sub":"arn:${AWS::Partition}:s3:::geo-data/asn/GeoLite2-ASN.mmdb"}]` {
		t.Errorf("grants: %+v, want s3:GetObject on the one object", got)
	}
	e := containerEnv(t, tpl)
	if e[EnvGeoIPASN] != "s3://geo-data/asn/GeoLite2-ASN.mmdb" || e[EnvThreatLists] != "local=/opt/lists/local.txt" ||
		e[EnvEnrichRefresh] != "5m0s" || e[EnvEnrichAWS] != nil || e[EnvGeoIPCity] != nil {
		t.Errorf("env: %s", jsonString(e))
	}
}

// Bad enrichment context is refused, every problem at once, each naming its key.
func TestValidateEnrich(t *testing.T) {
	zip, docker := lambdaZip(t), dockerDir(t)
	tests := map[string]struct {
		ctx  map[string]any
		want []string
	}{
		"valid lambda": {ctx: map[string]any{"enrichAws": "true", "enrichRegions": "eu-west-1, us-gov-west-1",
			"enrichRoles": testEnrichRoleA + "," + testEnrichRoleB, "enrichRefresh": "1h", "geoipCity": "s3://geo-data/City.mmdb",
			"geoipAsn": "s3://geo-data/a/b/ASN.mmdb", "threatLists": "feodo=s3://intel/feodo.csv; drop = s3://intel/drop.txt"}},
		"valid consumer with paths": {ctx: map[string]any{"mode": "consumer", "geoipCity": "/opt/geoip/City.mmdb",
			"threatLists": map[string]any{"local": "/opt/lists/drop.txt", "feodo": "s3://intel/feodo.csv"}}},
		"json string": {ctx: map[string]any{"threatLists": `{"feodo": "s3://intel/feodo.csv"}`}},
		"everything wrong": {ctx: map[string]any{
			"enrichRegions": "eu-west-1,Europe", "enrichRoles": "arn:aws:iam::210987654321:user/bob,kinflow-enrich",
			"enrichRefresh": "5s", "geoipCity": "/opt/geoip/City.mmdb", "geoipAsn": "s3://Geo_Data/ASN.mmdb",
			"threatLists": "a=s3://intel/;b=s3://intel/*.csv;c=https://example.com/list.txt;d=s3://intel/${x};e=s3://intel",
		}, want: []string{
			"enrichRegions is set without enrichAws=true", "enrichRoles is set without enrichAws=true",
			`enrichRegions: "Europe" is not a region`,
			`enrichRoles: "arn:aws:iam::210987654321:user/bob": want a role ARN`, `enrichRoles: "kinflow-enrich": want a role ARN`,
			"enrichRefresh 5s: want 10s to 24h",
			`geoipCity "/opt/geoip/City.mmdb": lambda mode reads s3://bucket/key only`,
			`geoipAsn "s3://Geo_Data/ASN.mmdb": bucket "Geo_Data"`,
			`threatLists[a] "s3://intel/": want s3://bucket/key of one object`,
			`threatLists[b] "s3://intel/*.csv": '*' and '?' would be wildcards`,
			`threatLists[c] "https://example.com/list.txt": want s3://bucket/key or a path`,
			`threatLists[d] "s3://intel/${x}": '${' would read`,
			`threatLists[e] "s3://intel": want s3://bucket/key of one object`,
		}},
		"refresh without a source": {ctx: map[string]any{"enrichRefresh": "10m"},
			want: []string{"enrichRefresh is set without enrichAws, geoipCity, geoipAsn or threatLists"}},
		"consumer relative path": {ctx: map[string]any{"mode": "consumer", "geoipAsn": "geoip/ASN.mmdb"},
			want: []string{`geoipAsn "geoip/ASN.mmdb": want s3://bucket/key or an absolute path in the consumer's image`}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx := map[string]any{"lambdaZip": zip, "logGroupNames": "/vpc/flowlogs", "sinkUrl": "https://search.example.com",
				"consumerDockerDir": docker, "consumerDockerfile": "Dockerfile"}
			for k, v := range tc.ctx {
				ctx[k] = v
			}
			p, _, err := FromContext(func(k string) any { return ctx[k] })
			if err != nil {
				t.Fatal(err)
			}
			err = p.Validate()
			wantProblems(t, err, tc.want)
			if err == nil {
				return
			}
			if n, m := len(strings.Split(err.Error(), "\n")), len(tc.want); n != m {
				t.Errorf("%d problems, want %d:\n%v", n, m, err)
			}
		})
	}
}

func TestParseThreatLists(t *testing.T) {
	tests := map[string]struct {
		in   any
		want map[string]string
		err  string
	}{
		"runtime form": {in: " feodo = s3://intel/feodo.csv ;drop=/opt/drop.txt;", want: map[string]string{"feodo": "s3://intel/feodo.csv", "drop": "/opt/drop.txt"}},
		"json string":  {in: `{"feodo": "s3://intel/feodo.csv"}`, want: map[string]string{"feodo": "s3://intel/feodo.csv"}},
		"cdk.json":     {in: map[string]any{"feodo": "s3://intel/feodo.csv"}, want: map[string]string{"feodo": "s3://intel/feodo.csv"}},
		"no name":      {in: "=s3://intel/feodo.csv", err: `"=s3://intel/feodo.csv": want name=`},
		"no source":    {in: "feodo", err: `"feodo": want name=`},
		"twice":        {in: "a=/x;a=/y", err: `the name "a" is given twice`},
		"not a string": {in: map[string]any{"feodo": 3.0}, err: `["feodo"]: want a string`},
		"bad json":     {in: `{"feodo": }`, err: "want a JSON object"},
		"a list":       {in: []any{"feodo"}, err: "want an object or name=source"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, _, err := FromContext(func(k string) any { return map[string]any{"threatLists": tc.in}[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), "threatLists: ") || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, p.Enrich.ThreatLists); d != "" {
				t.Errorf("lists (-want +got):\n%s", d)
			}
		})
	}
}
