package kinflowstack

import (
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	zip := lambdaZip(t)
	valid := func() Props {
		p := DefaultProps()
		p.Lambda.ZipPath = zip
		p.Sources.LogGroupNames = []string{"/vpc/flowlogs"}
		p.Sink.URL = "https://search.example.com"
		return p
	}
	tests := map[string]struct {
		edit func(p *Props)
		want []string // every substring must appear in the joined error; none means valid
	}{
		"valid":            {edit: func(p *Props) {}},
		"defaults lacking": {edit: func(p *Props) { *p = DefaultProps(); p.Lambda.ZipPath = "/nonexistent.zip" }, want: []string{"no source", "sinkUrl: empty", "lambdaZip"}},
		"mode":             {edit: func(p *Props) { p.Mode = "batch" }, want: []string{`mode "batch"`, "lambda consumer"}},
		"provisioned shards": {edit: func(p *Props) { p.Stream.Mode = StreamProvisioned; p.Stream.ShardCount = 0 },
			want: []string{"shardCount 0"}},
		"stream fields": {edit: func(p *Props) { p.Stream.RetentionHours = 12; p.Stream.Encryption = "none"; p.Stream.Mode = "fast" },
			want: []string{"streamRetentionHours 12", `streamEncryption "none"`, `streamMode "fast"`}},
		"lambda ranges": {edit: func(p *Props) {
			p.Lambda.BatchSize = 0
			p.Lambda.ParallelizationFactor = 11
			p.Lambda.MaxRecordAgeSeconds = 30
			p.Lambda.BatchingWindowSeconds = 301
			p.Lambda.RetryAttempts = -2
		}, want: []string{"batchSize 0", "parallelizationFactor 11", "maxRecordAgeSeconds 30", "batchingWindowSeconds 301", "retryAttempts -2"}},
		"flow logs": {edit: func(p *Props) {
			p.Sources.FlowLogVPCIDs = []string{"vpc-xyz"}
			p.Sources.FlowLogFormat = "${srcaddr} ${nonsense}"
			p.Sources.FlowLogAggregationSeconds = 30
		}, want: []string{`"vpc-xyz" is not a VPC id`, "${nonsense}", "flowLogAggregationSeconds 30"}},
		"consumer": {edit: func(p *Props) {
			p.Mode = ModeConsumer
			p.Consumer.DockerDir = t.TempDir()
			p.Consumer.CPU = 512
			p.Consumer.MemoryMB = 512
			p.Consumer.MinTasks = 3
			p.Consumer.MaxTasks = 2
		}, want: []string{"Dockerfile not found", "consumerMemoryMb 512", "consumerMaxTasks 2"}},
		"consumer vpc needs env": {edit: func(p *Props) {
			p.Mode = ModeConsumer
			p.Consumer.Image = "x:1"
			p.Consumer.VPCID = "vpc-0123456789abcdef0"
		}, want: []string{"vpcId needs an explicit account and region"}},
		"sink": {edit: func(p *Props) {
			p.Sink.URL = "http://search.example.com"
			p.Sink.SecretARN = "kinflow/es"
			p.Sink.Kind = "solr"
		}, want: []string{"want an https:// URL", `sinkSecretArn "kinflow/es"`, `sinkKind "solr"`}},
		"sigv4 needs opensearch": {edit: func(p *Props) { p.Sink.DomainARN = testDomainARN },
			want: []string{"sinkDomainArn (SigV4) needs sinkKind"}},
		"domain": {edit: func(p *Props) {
			p.Sink.NewDomain = &DomainConfig{Name: "K", EngineVersion: "7.10", InstanceType: "t3.medium", InstanceCount: 0, VolumeGB: 5}
		}, want: []string{"drop sinkUrl", "sinkKind must be", `domainName "K"`, "domainEngineVersion", "domainInstanceType", "domainInstanceCount 0", "domainVolumeGb 5"}},
		"webhook": {edit: func(p *Props) { p.Webhook.URL = "https://hooks.example.com" },
			want: []string{"webhookSecretArn"}},
		"pipeline": {edit: func(p *Props) { p.Pipeline.Window = 7 * time.Minute; p.Pipeline.IndexPrefix = "Kin Flow" },
			want: []string{"window 7m0s", `indexPrefix "Kin Flow"`}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := valid()
			tc.edit(&p)
			wantProblems(t, p.Validate(), tc.want)
		})
	}
}

func TestResolveFlowLogFormat(t *testing.T) {
	tests := map[string]struct {
		in, want, err string
	}{
		"default":                    {in: "default", want: "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"},
		"v8 ends with reject-reason": {in: "v8", want: "${ecs-task-id} ${reject-reason}"},
		"v5 stops before ecs":        {in: "v5", want: "${flow-direction} ${traffic-path}"},
		"custom":                     {in: " ${srcaddr}  ${reject-reason} ", want: "${srcaddr} ${reject-reason}"},
		"v6 does not exist":          {in: "v6", err: "want one of"},
		"unknown field":              {in: "${srcaddr} ${color}", err: "${color}"},
		"bare word":                  {in: "srcaddr", err: "srcaddr"},
		"duplicate":                  {in: "${srcaddr} ${srcaddr}", err: "twice"},
		"empty":                      {in: "", err: "empty"},
		"transit gateway field":      {in: "${srcaddr} ${tgw-id}", err: "${tgw-id}"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ResolveFlowLogFormat(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !strings.HasSuffix(got, tc.want) {
				t.Fatalf("got %q, %v; want suffix %q", got, err, tc.want)
			}
			if strings.Contains(tc.in, "v5") && strings.Contains(got, "ecs-") {
				t.Errorf("v5 has v7 fields: %q", got)
			}
		})
	}
}

// An existing log group may hold a transit gateway's flow logs: its format may name their fields, which a VPC flow
// log the stack creates cannot write.
func TestResolveLogGroupFormat(t *testing.T) {
	const tgw = "${version} ${resource-type} ${account-id} ${tgw-id} ${tgw-attachment-id} ${srcaddr} ${dstaddr}"
	if got, err := ResolveLogGroupFormat(tgw); err != nil || got != tgw {
		t.Errorf("ResolveLogGroupFormat(%q) = %q, %v", tgw, got, err)
	}
	if _, err := ResolveLogGroupFormat("${srcaddr} ${color}"); err == nil || !strings.Contains(err.Error(), "${color}") {
		t.Errorf("an unknown field: %v", err)
	}
}

func TestFromContext(t *testing.T) {
	ctx := map[string]any{
		"stackName":                 "FlowsProd",
		"mode":                      "consumer",
		"shardCount":                "3",
		"streamMode":                "provisioned",
		"logGroupNames":             "/a, /b ,",
		"flowLogVpcIds":             []any{"vpc-0123456789abcdef0"},
		"logGroupFormats":           `{"/a": "v5"}`,
		"accountSubscriptionPolicy": "true",
		"bisectOnError":             false,
		"batchSize":                 float64(250),
		"sink":                      "domain",
		"domainInstanceCount":       "2",
		"window":                    "5m",
		"consumerHealthCommand":     `["CMD-SHELL", "/kinflow health"]`,
		"region":                    "eu-west-1",
	}
	p, name, err := FromContext(func(k string) any { return ctx[k] })
	if err != nil {
		t.Fatal(err)
	}
	if name != "FlowsProd" || p.Mode != ModeConsumer || p.Stream.ShardCount != 3 || p.Stream.Mode != StreamProvisioned {
		t.Errorf("stack %s mode %s stream %+v", name, p.Mode, p.Stream)
	}
	if strings.Join(p.Sources.LogGroupNames, "|") != "/a|/b" || len(p.Sources.FlowLogVPCIDs) != 1 || p.Sources.LogGroupFormats["/a"] != "v5" || !p.Sources.AccountPolicy {
		t.Errorf("sources %+v", p.Sources)
	}
	if p.Lambda.BisectOnError || p.Lambda.BatchSize != 250 || p.Pipeline.Window != 5*time.Minute {
		t.Errorf("lambda %+v window %v", p.Lambda, p.Pipeline.Window)
	}
	if p.Sink.NewDomain == nil || p.Sink.NewDomain.InstanceCount != 2 || p.Sink.Kind != SinkOpenSearch {
		t.Errorf("sink %+v", p.Sink)
	}
	if strings.Join(p.Consumer.HealthCommand, "|") != "CMD-SHELL|/kinflow health" || *p.StackProps.Env.Region != "eu-west-1" {
		t.Errorf("health %q env %+v", p.Consumer.HealthCommand, p.StackProps.Env)
	}

	bad := map[string]any{"shardCount": "many", "bisectOnError": "maybe", "window": "10 minutes", "sink": "s3", "logGroupNames": 7.0}
	_, _, err = FromContext(func(k string) any { return bad[k] })
	for _, w := range []string{"shardCount", "bisectOnError", "window", `sink "s3"`, "logGroupNames"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
}
