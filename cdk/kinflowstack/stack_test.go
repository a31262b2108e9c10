package kinflowstack

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/google/go-cmp/cmp"
)

// TestStack synthesizes every scenario and checks the resources, properties and IAM statements of its mode and
// options.
func TestStack(t *testing.T) {
	checks := map[string]func(t *testing.T, tpl *template, k *KinflowStack){
		"lambda": func(t *testing.T, tpl *template, k *KinflowStack) {
			checkStreamEncryption(t, tpl, "alias/aws/kinesis")
			if s := tpl.only(t, "AWS::Kinesis::Stream"); jsonString(s["StreamModeDetails"]) != `{"StreamMode":"ON_DEMAND"}` {
				t.Errorf("stream mode: %s", jsonString(s["StreamModeDetails"]))
			}
			checkLambda(t, tpl, defaultMapping, separateRoles)
			checkSubscriptions(t, tpl, 2, false)
			if n := tpl.count("AWS::Logs::AccountPolicy"); n != 0 {
				t.Errorf("account policies: %d, want 0", n)
			}
			checkSinkEnv(t, tpl, testSecret)
			if got := tpl.grants("LambdaBatchRole", "secretsmanager:GetSecretValue"); len(got) != 1 || got[0].Resource[0] != testSecret {
				t.Errorf("batch role GetSecretValue: %+v, want exactly %s", got, testSecret)
			}
			if got := tpl.grants("LambdaFinalizerRole", "kinesis:GetRecords"); len(got) != 0 {
				t.Errorf("the finalizer reads no stream, but has %+v", got)
			}
			checkAlarms(t, tpl, "IteratorAge", "BatchErrors", "FinalizerErrors", "BatchThrottles",
				"FinalizerThrottles", "FailedBatches", "DeadLetters", "StreamWriteThrottles")
		},
		"lambda-all": func(t *testing.T, tpl *template, k *KinflowStack) {
			checkStreamEncryption(t, tpl, "")
			tpl.has(t, "AWS::KMS::Key", map[string]any{"EnableKeyRotation": true})
			if s := tpl.only(t, "AWS::Kinesis::Stream"); s["ShardCount"] != 2.0 {
				t.Errorf("shard count %v, want 2", s["ShardCount"])
			}
			checkLambda(t, tpl, map[string]any{
				"BatchSize": 500, "MaximumBatchingWindowInSeconds": 10, "ParallelizationFactor": 4,
				"MaximumRetryAttempts": 3, "MaximumRecordAgeInSeconds": 3600,
			}, separateRoles)
			// CloudWatch Logs encrypts with the stream's key; the readers decrypt.
			if len(tpl.grants("SubscriptionsRole", "kms:GenerateDataKey")) != 1 {
				t.Error("the subscription role cannot encrypt with the stream key")
			}
			if len(tpl.grants("LambdaBatchRole", "kms:Decrypt")) != 1 {
				t.Error("the batch role cannot decrypt the stream")
			}
			// 2 named groups + the flow-log group.
			checkSubscriptions(t, tpl, 3, true)
			pol := tpl.only(t, "AWS::Logs::AccountPolicy")
			if pol["PolicyType"] != "SUBSCRIPTION_FILTER_POLICY" || pol["Scope"] != "ALL" {
				t.Errorf("account policy: %s", jsonString(pol))
			}
			crit := jsonString(pol["SelectionCriteria"])
			for _, want := range []string{"LogGroupName NOT IN", "LambdaBatchLogs", "LambdaFinalizerLogs", "/aws/lambda/noisy"} {
				if !strings.Contains(crit, want) {
					t.Errorf("selection criteria %s lacks %q (kinflow's own logs must not feed the stream)", crit, want)
				}
			}
			checkFlowLogs(t, tpl, 2, "${reject-reason}")
			fl := tpl.resources("AWS::EC2::FlowLog")
			for _, r := range fl {
				f := r["Properties"].(map[string]any)
				if f["MaxAggregationInterval"] != 60.0 || f["TrafficType"] != "ALL" || f["LogDestinationType"] != "cloud-watch-logs" {
					t.Errorf("flow log: %s", jsonString(f))
				}
			}
			formats := jsonString(env(t, lambdaFunction(t, tpl, "batch"))[EnvFlowFormats])
			for _, want := range []string{`/vpc/flowlogs/staging=version account-id`, `flow-direction traffic-path"`, `FlowLogsLogGroup`, ` reject-reason;`} {
				if !strings.Contains(formats, want) {
					t.Errorf("%s: %s lacks %q", EnvFlowFormats, formats, want)
				}
			}
			if strings.Contains(formats, "${") {
				t.Errorf("%s: %s has ${...}, which CloudFormation would read as a substitution", EnvFlowFormats, formats)
			}
			checkWebhook(t, tpl, "LambdaBatchRole")
			for _, r := range tpl.resources("AWS::CloudWatch::Alarm") {
				if !strings.Contains(jsonString(r["Properties"].(map[string]any)["AlarmActions"]), "arn:aws:sns:eu-west-1:123456789012:ops") {
					t.Errorf("alarm without the topic: %s", jsonString(r["Properties"]))
				}
			}
		},
		"lambda-domain": func(t *testing.T, tpl *template, k *KinflowStack) {
			// Both functions send the domain requests and fine-grained access control maps one IAM principal:
			// they run under one role, the master user.
			checkLambda(t, tpl, defaultMapping, lambdaRoles{batch: "LambdaRole", finalizer: "LambdaRole"})
			checkDomain(t, tpl, k, []string{"LambdaRole"}, 1)
			if n := len(k.Lambda.Roles()); n != 1 {
				t.Errorf("execution roles: %d, want 1", n)
			}
			checkSharedRoleIsUnion(t, tpl)
		},
		"lambda-s3": func(t *testing.T, tpl *template, k *KinflowStack) {
			checkLambdaS3(t, tpl, k)
		},
		"consumer-s3": func(t *testing.T, tpl *template, k *KinflowStack) {
			checkConsumerS3(t, tpl, k)
		},
		"lambda-enrich":   checkLambdaEnrich,
		"consumer-enrich": checkConsumerEnrich,
		"consumer": func(t *testing.T, tpl *template, k *KinflowStack) {
			checkConsumer(t, tpl, 4, false)
			checkSinkEnv(t, tpl, testSecret)
			if n := tpl.count("AWS::Lambda::Function"); n != 0 {
				t.Errorf("consumer mode has %d functions", n)
			}
			checkAlarms(t, tpl, "IteratorAge", "ReadThrottles", "NoWorkers", "DeadLetters", "StreamWriteThrottles")
		},
		"consumer-domain": func(t *testing.T, tpl *template, k *KinflowStack) {
			checkConsumer(t, tpl, 4, false)
			checkDomain(t, tpl, k, []string{"ConsumerTaskRole"}, 2)
			checkWebhook(t, tpl, "ConsumerTaskRole")
		},
		"consumer-sigv4": func(t *testing.T, tpl *template, k *KinflowStack) {
			checkConsumer(t, tpl, 4, true)
			e := containerEnv(t, tpl)
			if e[EnvSinkAWSService] != "es" || e[EnvSinkAWSRegion] != "eu-west-1" || e[EnvSinkKind] != "opensearch" {
				t.Errorf("sigv4 env: %s", jsonString(e))
			}
			got := tpl.grants("ConsumerTaskRole", "es:ESHttpPost")
			if len(got) != 1 || got[0].Resource[0] != testDomainARN+"/*" {
				t.Errorf("es:ESHttpPost: %+v, want %s/*", got, testDomainARN)
			}
			checkFlowLogs(t, tpl, 1, "${srcaddr} ${dstaddr} ${start} ${end} ${action} ${reject-reason}")
			tpl.has(t, "AWS::ECS::TaskDefinition", map[string]any{
				"ContainerDefinitions": []any{map[string]any{"Image": "public.ecr.aws/kinflow/consumer:1.0.0"}},
			})
		},
	}
	for name, props := range scenarios(t) {
		t.Run(name, func(t *testing.T) {
			check, ok := checks[name]
			if !ok {
				t.Fatalf("no checks for scenario %s", name)
			}
			k, _ := build(t, props, "")
			tpl := templateOf(t, k)
			checkLeastPrivilege(t, tpl)
			if !props.Enrich.Enabled() {
				checkNoEnrich(t, tpl)
			}
			if tpl.count("AWS::CloudWatch::Dashboard") != 1 {
				t.Error("no dashboard")
			}
			check(t, tpl, k)
		})
	}
}

// checkLeastPrivilege: every identity statement names its resources. The exceptions are the actions without
// resource-level permissions: ecr:GetAuthorizationToken, and the EC2 reads of enrichAws, bounded by region.
func checkLeastPrivilege(t *testing.T, tpl *template) {
	t.Helper()
	for _, s := range tpl.statements() {
		if s.raw["Effect"] != "Allow" {
			continue
		}
		for _, a := range s.Actions {
			if strings.Contains(a, "*") {
				t.Errorf("%s: wildcard action %s", s.Policy, a)
			}
		}
		for _, r := range s.Resource {
			describe := slices.Equal(s.Actions, enrichEC2Actions) && s.raw["Condition"] != nil
			if r == "*" && !slices.Equal(s.Actions, []string{"ecr:GetAuthorizationToken"}) && !describe {
				t.Errorf("%s: %v on Resource *", s.Policy, s.Actions)
			}
		}
	}
}

func checkStreamEncryption(t *testing.T, tpl *template, key string) {
	t.Helper()
	s := tpl.only(t, "AWS::Kinesis::Stream")
	enc, _ := s["StreamEncryption"].(map[string]any)
	if enc["EncryptionType"] != "KMS" {
		t.Fatalf("stream not encrypted: %s", jsonString(s))
	}
	if key != "" && enc["KeyId"] != key {
		t.Errorf("stream key %v, want %s", enc["KeyId"], key)
	}
	if key == "" && !strings.Contains(jsonString(enc["KeyId"]), "StreamKey") {
		t.Errorf("stream key %v, want the stack's key", enc["KeyId"])
	}
}

func lambdaFunction(t *testing.T, tpl *template, handler string) map[string]any {
	t.Helper()
	for _, r := range tpl.resources("AWS::Lambda::Function") {
		p := r["Properties"].(map[string]any)
		if p["Environment"] == nil {
			continue // the CDK's handler of bucket notifications
		}
		if env(t, p)[EnvLambdaHandler] == handler {
			return p
		}
	}
	t.Fatalf("no function with %s=%s", EnvLambdaHandler, handler)
	return nil
}

// lambdaRoles are the logical id prefixes of the functions' execution roles (the same one when shared).
type lambdaRoles struct{ batch, finalizer string }

var (
	separateRoles  = lambdaRoles{batch: "LambdaBatchRole", finalizer: "LambdaFinalizerRole"}
	defaultMapping = map[string]any{
		"BatchSize": 100, "MaximumBatchingWindowInSeconds": 5, "ParallelizationFactor": 1,
		"MaximumRetryAttempts": 10, "MaximumRecordAgeInSeconds": 21600,
	}
)

func checkLambda(t *testing.T, tpl *template, mapping map[string]any, roles lambdaRoles) {
	t.Helper()
	if n := tpl.count("AWS::Lambda::Function"); n != 2 {
		t.Errorf("functions: %d, want 2 (batch, finalizer)", n)
	}
	for _, h := range []string{"batch", "finalizer"} {
		fn := lambdaFunction(t, tpl, h)
		if fn["Runtime"] != "provided.al2023" || jsonString(fn["Architectures"]) != `["arm64"]` || fn["Handler"] != "bootstrap" {
			t.Errorf("%s: runtime %v %v %v, want provided.al2023 arm64 bootstrap", h, fn["Runtime"], fn["Architectures"], fn["Handler"])
		}
		e := env(t, fn)
		for _, k := range []string{EnvStateTable, EnvSinkKind, EnvSinkURL, EnvSinkSetup, EnvIndexPrefix, EnvWindow, EnvAllowedLateness} {
			if e[k] == nil {
				t.Errorf("%s: no %s in %s", h, k, jsonString(e))
			}
		}
		if e[EnvWindow] != "10m0s" || e[EnvAllowedLateness] != "15m0s" || e[EnvIndexPrefix] != "kinflow" {
			t.Errorf("%s: pipeline env %s", h, jsonString(e))
		}
		if !strings.Contains(jsonString(fn["LoggingConfig"]), "LogGroup") {
			t.Errorf("%s: logs to %s, want its own log group", h, jsonString(fn["LoggingConfig"]))
		}
	}
	want := map[string]any{
		"FunctionResponseTypes":      []any{"ReportBatchItemFailures"},
		"BisectBatchOnFunctionError": true,
		"StartingPosition":           "TRIM_HORIZON",
		"DestinationConfig": map[string]any{"OnFailure": map[string]any{
			"Destination": map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(stringp("^LambdaDeadLetters")), "Arn"}},
		}},
	}
	for k, v := range mapping {
		want[k] = v
	}
	tpl.has(t, "AWS::Lambda::EventSourceMapping", want)
	tpl.has(t, "AWS::SQS::Queue", map[string]any{"SqsManagedSseEnabled": true, "MessageRetentionPeriod": 1209600})
	tpl.has(t, "AWS::Events::Rule", map[string]any{"ScheduleExpression": "rate(1 minute)", "State": "ENABLED"})
	tpl.has(t, "AWS::DynamoDB::Table", map[string]any{
		"KeySchema":   []any{map[string]any{"AttributeName": "ShardID", "KeyType": "HASH"}},
		"BillingMode": "PAY_PER_REQUEST",
	})
	// Each role writes the log groups of the functions it runs, and no other.
	logs := map[string][]string{}
	for h, role := range map[string]string{"batch": roles.batch, "finalizer": roles.finalizer} {
		if id := roleOf(lambdaFunction(t, tpl, h)); !strings.HasPrefix(id, role) {
			t.Errorf("%s function runs as %s, want %s", h, id, role)
		}
		logs[role] = append(logs[role], "Lambda"+strings.ToUpper(h[:1])+h[1:]+"Logs")
	}
	for role, groups := range logs {
		if len(tpl.grants(role, "dynamodb:UpdateItem")) != 1 || len(tpl.grants(role, "sqs:SendMessage")) != 1 {
			t.Errorf("%s: cannot use the state table and the queue", role)
		}
		got := tpl.grants(role, "logs:PutLogEvents")
		if len(got) != 1 || len(got[0].Resource) != len(groups) {
			t.Errorf("%s: PutLogEvents %+v, want exactly %v", role, got, groups)
			continue
		}
		for _, g := range groups {
			if !strings.Contains(jsonString(got[0].Resource), g) {
				t.Errorf("%s: PutLogEvents %+v, want %v", role, got, groups)
			}
		}
	}
	if got := tpl.grants(roles.batch, "kinesis:GetRecords"); len(got) != 1 || !strings.Contains(jsonString(got[0].Resource), "Stream") {
		t.Errorf("batch role GetRecords: %+v", got)
	}
	for id, r := range tpl.resources("AWS::IAM::Role") {
		if r["Properties"].(map[string]any)["ManagedPolicyArns"] != nil && strings.HasPrefix(id, "Lambda") {
			t.Errorf("%s has managed policies (want only its own statements)", id)
		}
	}
}

// roleOf is the logical id of the role a function runs as.
func roleOf(fn map[string]any) string {
	if ga, ok := fn["Role"].(map[string]any)["Fn::GetAtt"].([]any); ok {
		return ga[0].(string)
	}
	return jsonString(fn["Role"])
}

// checkSharedRoleIsUnion: the shared role of lambda-domain holds exactly the grants of the separate batch and
// finalizer roles of the lambda scenario, action by action and resource by resource, apart from the sink's own
// (a secret there, the domain here, checked by checkDomain). So sharing adds to each function only the other's
// grants, each still naming its resources.
func checkSharedRoleIsUnion(t *testing.T, shared *template) {
	t.Helper()
	k, _ := build(t, lambdaProps(t), "")
	separate := templateOf(t, k)
	sink := func(action string) bool {
		return strings.HasPrefix(action, "secretsmanager:") || strings.HasPrefix(action, "es:")
	}
	want := separate.grantedResources(sink, "LambdaBatchRole", "LambdaFinalizerRole")
	got := shared.grantedResources(sink, "LambdaRole")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("shared role grants (-union of the separate roles +shared):\n%s", diff)
	}
}

func checkSubscriptions(t *testing.T, tpl *template, filters int, kms bool) {
	t.Helper()
	if n := tpl.count("AWS::Logs::SubscriptionFilter"); n != filters {
		t.Errorf("subscription filters: %d, want %d", n, filters)
	}
	for id, r := range tpl.resources("AWS::Logs::SubscriptionFilter") {
		p := r["Properties"].(map[string]any)
		if !strings.Contains(jsonString(p["DestinationArn"]), "Stream") || !strings.Contains(jsonString(p["RoleArn"]), "SubscriptionsRole") {
			t.Errorf("%s: %s", id, jsonString(p))
		}
		if p["FilterPattern"] != "" || p["Distribution"] != "Random" {
			t.Errorf("%s: pattern %v distribution %v", id, p["FilterPattern"], p["Distribution"])
		}
		if !strings.Contains(jsonString(r["DependsOn"]), "SubscriptionsRoleDefaultPolicy") {
			t.Errorf("%s: does not wait for the role's policy: %v", id, r["DependsOn"])
		}
	}
	tpl.has(t, "AWS::IAM::Role", map[string]any{
		"AssumeRolePolicyDocument": map[string]any{"Statement": []any{map[string]any{
			"Action":    "sts:AssumeRole",
			"Principal": map[string]any{"Service": "logs.amazonaws.com"},
			"Condition": map[string]any{"StringLike": map[string]any{"aws:SourceArn": map[string]any{
				"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:*",
			}}},
		}}},
	})
	got := tpl.grants("SubscriptionsRole", "kinesis:PutRecord")
	if len(got) != 1 || !strings.Contains(jsonString(got[0].Resource), "Stream") {
		t.Errorf("subscription role PutRecord: %+v", got)
	}
	if n := len(tpl.grants("SubscriptionsRole", "kms:GenerateDataKey")); (n == 1) != kms {
		t.Errorf("subscription role kms:GenerateDataKey statements: %d, want key=%v", n, kms)
	}
}

func checkFlowLogs(t *testing.T, tpl *template, n int, format string) {
	t.Helper()
	if got := tpl.count("AWS::EC2::FlowLog"); got < n {
		t.Fatalf("flow logs: %d, want %d", got, n)
	}
	found := 0
	for _, r := range tpl.resources("AWS::EC2::FlowLog") {
		p := r["Properties"].(map[string]any)
		if p["ResourceType"] != "VPC" || !strings.Contains(jsonString(p["LogGroupName"]), "FlowLogsLogGroup") {
			continue // the consumer VPC's own flow log
		}
		found++
		if !strings.Contains(p["LogFormat"].(string), format) {
			t.Errorf("flow log format %q lacks %q", p["LogFormat"], format)
		}
	}
	if found != n {
		t.Errorf("flow logs into kinflow's group: %d, want %d", found, n)
	}
	tpl.has(t, "AWS::IAM::Role", map[string]any{
		"AssumeRolePolicyDocument": map[string]any{"Statement": []any{map[string]any{
			"Principal": map[string]any{"Service": "vpc-flow-logs.amazonaws.com"},
			"Condition": map[string]any{
				"StringEquals": map[string]any{"aws:SourceAccount": map[string]any{"Ref": "AWS::AccountId"}},
				"ArnLike":      map[string]any{"aws:SourceArn": assertions.Match_AnyValue()},
			},
		}}},
	})
	got := tpl.grants("FlowLogsRole", "logs:PutLogEvents")
	if len(got) != 1 || !strings.Contains(jsonString(got[0].Resource), "FlowLogsLogGroup") {
		t.Errorf("flow-logs role PutLogEvents: %+v", got)
	}
}

func containerEnv(t *testing.T, tpl *template) map[string]any {
	t.Helper()
	td := tpl.only(t, "AWS::ECS::TaskDefinition")
	c := td["ContainerDefinitions"].([]any)[0].(map[string]any)
	out := map[string]any{}
	for _, kv := range c["Environment"].([]any) {
		kv := kv.(map[string]any)
		out[kv["Name"].(string)] = kv["Value"]
	}
	return out
}

func checkConsumer(t *testing.T, tpl *template, maxTasks int, public bool) {
	t.Helper()
	tpl.has(t, "AWS::ECS::Service", map[string]any{
		"LaunchType":   "FARGATE",
		"DesiredCount": 1,
		"DeploymentConfiguration": map[string]any{
			"DeploymentCircuitBreaker": map[string]any{"Enable": true, "Rollback": true},
			"MinimumHealthyPercent":    100,
		},
	})
	svc := tpl.only(t, "AWS::ECS::Service")
	assign := jsonString(svc["NetworkConfiguration"])
	if strings.Contains(assign, `"AssignPublicIp":"ENABLED"`) != public {
		t.Errorf("public IP %v, want %v: %s", !public, public, assign)
	}
	td := tpl.only(t, "AWS::ECS::TaskDefinition")
	if jsonString(td["RuntimePlatform"]) != `{"CpuArchitecture":"ARM64","OperatingSystemFamily":"LINUX"}` ||
		td["Cpu"] != "512" || td["Memory"] != "1024" {
		t.Errorf("task: %s %v %v", jsonString(td["RuntimePlatform"]), td["Cpu"], td["Memory"])
	}
	c := td["ContainerDefinitions"].([]any)[0].(map[string]any)
	if jsonString(c["HealthCheck"].(map[string]any)["Command"]) != `["CMD","/kinflow","health"]` {
		t.Errorf("health check: %s", jsonString(c["HealthCheck"]))
	}
	if c["ReadonlyRootFilesystem"] != true {
		t.Error("root filesystem writable")
	}
	e := containerEnv(t, tpl)
	for _, k := range []string{EnvStreamName, EnvLeaseTable, EnvStateTable, EnvSinkKind, EnvSinkURL, EnvSinkSetup, EnvIndexPrefix, EnvWindow, EnvAllowedLateness} {
		if e[k] == nil {
			t.Errorf("container: no %s in %s", k, jsonString(e))
		}
	}
	if !strings.Contains(jsonString(e[EnvLeaseTable]), "ConsumerLeases") || !strings.Contains(jsonString(e[EnvStateTable]), "ConsumerState") {
		t.Errorf("lease %s and state %s tables: want a table each", jsonString(e[EnvLeaseTable]), jsonString(e[EnvStateTable]))
	}
	tpl.has(t, "AWS::DynamoDB::Table", map[string]any{
		"KeySchema":               []any{map[string]any{"AttributeName": "ShardID", "KeyType": "HASH"}},
		"BillingMode":             "PAY_PER_REQUEST",
		"TimeToLiveSpecification": map[string]any{"AttributeName": "ExpiresAt", "Enabled": true},
	})
	tpl.has(t, "AWS::ApplicationAutoScaling::ScalableTarget", map[string]any{"MinCapacity": 1, "MaxCapacity": maxTasks})
	tpl.has(t, "AWS::ApplicationAutoScaling::ScalingPolicy", map[string]any{"PolicyType": "TargetTrackingScaling"})
	tpl.has(t, "AWS::ApplicationAutoScaling::ScalingPolicy", map[string]any{"PolicyType": "StepScaling"})
	for _, a := range []string{"kinesis:GetRecords", "dynamodb:UpdateItem", "dynamodb:Scan"} {
		got := tpl.grants("ConsumerTaskRole", a)
		if len(got) != 1 {
			t.Errorf("task role %s: %+v", a, got)
		}
	}
	if tpl.count("AWS::ECS::Cluster") != 1 {
		t.Error("no cluster")
	}
}

func checkSinkEnv(t *testing.T, tpl *template, secret string) {
	t.Helper()
	var e map[string]any
	if tpl.count("AWS::Lambda::Function") > 0 {
		e = env(t, lambdaFunction(t, tpl, "batch"))
	} else {
		e = containerEnv(t, tpl)
	}
	if e[EnvSinkAWSRegion] != nil || e[EnvSinkSecretARN] != secret || e[EnvSinkURL] != "https://search.example.com:9243" || e[EnvSinkKind] != "elasticsearch" {
		t.Errorf("sink env: %s", jsonString(e))
	}
}

func checkWebhook(t *testing.T, tpl *template, role string) {
	t.Helper()
	got := tpl.grants(role, "secretsmanager:GetSecretValue")
	found := false
	for _, s := range got {
		if s.Resource[0] == testWebhookSecret+"-??????" {
			found = true
		}
	}
	if !found {
		t.Errorf("%s cannot read the webhook secret (partial ARN + -??????): %+v", role, got)
	}
}

func checkDomain(t *testing.T, tpl *template, k *KinflowStack, writers []string, nodes int) {
	t.Helper()
	d := tpl.only(t, "AWS::OpenSearchService::Domain")
	want := map[string]string{
		"EncryptionAtRestOptions":     `{"Enabled":true}`,
		"NodeToNodeEncryptionOptions": `{"Enabled":true}`,
		"DomainEndpointOptions":       `{"EnforceHTTPS":true,"TLSSecurityPolicy":"Policy-Min-TLS-1-2-PFS-2023-10"}`,
		"EngineVersion":               `"OpenSearch_2.19"`,
	}
	for k, v := range want {
		if got := jsonString(d[k]); got != v {
			t.Errorf("domain %s: %s, want %s", k, got, v)
		}
	}
	checkRuntimeIsMasterUser(t, tpl, d)
	adv := jsonString(d["AdvancedSecurityOptions"])
	if !strings.Contains(adv, `"Enabled":true`) || !strings.Contains(adv, `"InternalUserDatabaseEnabled":false`) || !strings.Contains(adv, "MasterUserARN") {
		t.Errorf("fine-grained access control: %s", adv)
	}
	if cc := d["ClusterConfig"].(map[string]any); cc["InstanceCount"] != float64(nodes) || cc["ZoneAwarenessEnabled"] != (nodes == 2) {
		t.Errorf("cluster: %s", jsonString(cc))
	}
	access := jsonString(d["AccessPolicies"])
	for _, w := range writers {
		if !strings.Contains(access, w) {
			t.Errorf("access policy %s does not name %s", access, w)
		}
		if got := tpl.grants(w, "es:ESHttpPut"); len(got) != 1 || !strings.Contains(jsonString(got[0].Resource), "DestinationDomain") {
			t.Errorf("%s es:ESHttpPut: %+v", w, got)
		}
	}
	if strings.Contains(access, `"AWS":"*"`) || strings.Contains(access, `"*"`) {
		t.Errorf("access policy open to anyone: %s", access)
	}
	if n := len(d["LogPublishingOptions"].(map[string]any)); n != 4 {
		t.Errorf("log publishing: %d kinds, want 4", n)
	}
	tpl.has(t, "AWS::Logs::ResourcePolicy", map[string]any{"PolicyName": "kinflow-opensearch-kinflow"})
	if r := tpl.resources("AWS::OpenSearchService::Domain"); jsonString(r[firstKey(r)]["DeletionPolicy"]) != `"Retain"` {
		t.Errorf("domain not retained: %v", r[firstKey(r)]["DeletionPolicy"])
	}
}

// checkRuntimeIsMasterUser: every principal the runtime runs as (each function's role, each task's role) is the
// domain's master user, the one IAM principal fine-grained access control maps; any other would pass the access
// policy and then get 403 on every request. The access policy names that principal and no other.
func checkRuntimeIsMasterUser(t *testing.T, tpl *template, domain map[string]any) {
	t.Helper()
	var runAs []any
	for _, r := range tpl.resources("AWS::Lambda::Function") {
		runAs = append(runAs, r["Properties"].(map[string]any)["Role"])
	}
	for _, r := range tpl.resources("AWS::ECS::TaskDefinition") {
		runAs = append(runAs, r["Properties"].(map[string]any)["TaskRoleArn"])
	}
	if len(runAs) == 0 {
		t.Fatal("no function or task: nothing runs as the master user")
	}
	for _, p := range runAs {
		tpl.has(t, "AWS::OpenSearchService::Domain", map[string]any{
			"AdvancedSecurityOptions": map[string]any{"MasterUserOptions": map[string]any{"MasterUserARN": p}},
		})
	}
	master := domain["AdvancedSecurityOptions"].(map[string]any)["MasterUserOptions"].(map[string]any)["MasterUserARN"]
	tpl.has(t, "AWS::OpenSearchService::Domain", map[string]any{
		"AccessPolicies": map[string]any{"Statement": []any{map[string]any{
			"Principal": map[string]any{"AWS": assertions.Match_ArrayEquals(&[]any{master})},
		}}},
	})
}

func checkAlarms(t *testing.T, tpl *template, names ...string) {
	t.Helper()
	ids := map[string]bool{}
	for id := range tpl.resources("AWS::CloudWatch::Alarm") {
		ids[id] = true
	}
	for _, n := range names {
		found := false
		for id := range ids {
			if strings.HasPrefix(id, "Monitoring"+n) {
				found = true
			}
		}
		if !found {
			t.Errorf("no alarm %s among %v", n, ids)
		}
	}
	tpl.has(t, "AWS::Logs::MetricFilter", map[string]any{
		"FilterPattern": "{ $.dead_letters > 0 }",
		"MetricTransformations": []any{map[string]any{
			"MetricNamespace": MetricsNamespace, "MetricName": "DeadLetters", "MetricValue": "$.dead_letters",
		}},
	})
}

func firstKey[V any](m map[string]V) string {
	for k := range m {
		return k
	}
	return ""
}

func stringp(s string) *string { return &s }
