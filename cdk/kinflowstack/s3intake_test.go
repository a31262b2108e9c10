package kinflowstack

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/google/go-cmp/cmp"

	"github.com/kinflow/kinflow/internal/settings"
)

// The resources the readers of the s3 scenarios may get: exactly the two prefixes of the existing bucket and the
// objects of the new bucket.
var wantS3Objects = []string{
	`{"Fn::Join":["",[{"Fn::GetAtt":["S3IntakeBucket8653AABD","Arn"]},"/*"]]}`,
	`{"Fn::Sub":"arn:${AWS::Partition}:s3:::corp-logs/AWSLogs/123456789012/vpcflowlogs/*"}`,
	`{"Fn::Sub":"arn:${AWS::Partition}:s3:::corp-logs/copied/alb/*"}`,
}

const wantS3Routes = "corp-logs/copied/alb/=alb"

func checkLambdaS3(t *testing.T, tpl *template, k *KinflowStack) {
	t.Helper()
	checkS3Intake(t, tpl, k)
	if n := tpl.count("AWS::Lambda::Function"); n != 4 {
		t.Errorf("functions: %d, want 4 (batch, finalizer, objects, the CDK's notifications handler)", n)
	}
	fn := lambdaFunction(t, tpl, "objects")
	if fn["Runtime"] != "provided.al2023" || jsonString(fn["Architectures"]) != `["arm64"]` || fn["Timeout"] != 300.0 || fn["MemorySize"] != 1024.0 {
		t.Errorf("objects function: %s", jsonString(fn))
	}
	if id := roleOf(fn); !strings.HasPrefix(id, "LambdaObjectsRole") {
		t.Errorf("objects function runs as %s, want its own role", id)
	}
	e := env(t, fn)
	batch := env(t, lambdaFunction(t, tpl, "batch"))
	// The same sink and pipeline environment as the batch function, and the same state table.
	for name, v := range batch {
		if name != EnvLambdaHandler && jsonString(e[name]) != jsonString(v) {
			t.Errorf("objects %s = %s, batch has %s", name, jsonString(e[name]), jsonString(v))
		}
	}
	if e[EnvS3Routes] != wantS3Routes || batch[EnvS3Routes] != nil {
		t.Errorf("%s: objects %v, batch %v; want %q on the objects function only", EnvS3Routes, e[EnvS3Routes], batch[EnvS3Routes], wantS3Routes)
	}
	if !strings.Contains(jsonString(e[EnvStateTable]), "LambdaState") || e[EnvSinkSecretARN] != testSecret {
		t.Errorf("objects env: %s", jsonString(e))
	}
	checkReads(t, settings.Lambda, e)

	// The SQS event source: partial batch responses, 5 objects a batch, no window.
	tpl.has(t, "AWS::Lambda::EventSourceMapping", map[string]any{
		"FunctionResponseTypes":          []any{"ReportBatchItemFailures"},
		"BatchSize":                      5,
		"EventSourceArn":                 map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(stringp("^S3IntakeQueue")), "Arn"}},
		"FunctionName":                   map[string]any{"Ref": assertions.Match_StringLikeRegexp(stringp("^LambdaObjects"))},
		"MaximumBatchingWindowInSeconds": assertions.Match_Absent(),
	})
	// Visibility: at least 6 times the function's timeout.
	q := queue(t, tpl, "S3IntakeQueue")
	if vis, timeout := q["VisibilityTimeout"].(float64), fn["Timeout"].(float64); vis < 6*timeout {
		t.Errorf("visibility timeout %v < 6 x function timeout %v", vis, timeout)
	}

	// The objects role: the objects of the prefixes, the key through S3, the queue (the event source's grant),
	// the state table, its own logs, and the sink's secret.
	got := tpl.grantedResources(func(string) bool { return false }, "LambdaObjectsRole")
	for a, want := range map[string][]string{
		"s3:GetObject":        wantS3Objects,
		"s3:GetObjectVersion": wantS3Objects,
		"kms:Decrypt":         {`"` + testS3KeyARN + `"`},
		"sqs:ReceiveMessage":  {`{"Fn::GetAtt":["S3IntakeQueue7E6ED865","Arn"]}`},
		"sqs:DeleteMessage":   {`{"Fn::GetAtt":["S3IntakeQueue7E6ED865","Arn"]}`},
	} {
		if d := cmp.Diff(want, got[a]); d != "" {
			t.Errorf("objects role %s (-want +got):\n%s", a, d)
		}
	}
	for _, a := range []string{"dynamodb:UpdateItem", "logs:PutLogEvents", "secretsmanager:GetSecretValue"} {
		if len(got[a]) != 1 {
			t.Errorf("objects role %s: %v", a, got[a])
		}
	}
	if len(got["kinesis:GetRecords"]) != 0 {
		t.Errorf("the objects function reads no stream, but may: %v", got["kinesis:GetRecords"])
	}
	for _, role := range []string{"LambdaBatchRole", "LambdaFinalizerRole"} {
		if len(tpl.grants(role, "s3:GetObject")) != 0 {
			t.Errorf("%s may read the intake's objects", role)
		}
	}
	checkAlarms(t, tpl, "S3DeadLetters", "ObjectsErrors", "IteratorAge", "FailedBatches")
	checkS3Alarm(t, tpl)

	// The account policy's exclusions and the dead-letter metric cover the objects function's logs too.
	if n := len(tpl.resources("AWS::Logs::MetricFilter")); n != 3 {
		t.Errorf("dead-letter metric filters: %d, want 3 (batch, finalizer, objects)", n)
	}
}

func checkConsumerS3(t *testing.T, tpl *template, k *KinflowStack) {
	t.Helper()
	checkS3Intake(t, tpl, k)
	checkConsumer(t, tpl, 4, false)
	if n := tpl.count("AWS::Lambda::Function"); n != 1 {
		t.Errorf("functions: %d, want the notifications handler only", n)
	}
	e := containerEnv(t, tpl)
	if jsonString(e[EnvSQSQueueURL]) != `{"Ref":"S3IntakeQueue7E6ED865"}` || e[EnvS3Routes] != wantS3Routes || e[EnvStreamName] == nil {
		t.Errorf("container env: %s", jsonString(e))
	}
	checkReads(t, settings.Consumer, e)
	if v := queue(t, tpl, "S3IntakeQueue")["VisibilityTimeout"]; v != 300.0 {
		t.Errorf("visibility timeout %v, want 300 (the consumer's own)", v)
	}
	got := tpl.grantedResources(func(a string) bool {
		return !strings.HasPrefix(a, "s3:") && !strings.HasPrefix(a, "sqs:") && a != "kms:Decrypt"
	}, "ConsumerTaskRole")
	q := []string{`{"Fn::GetAtt":["S3IntakeQueue7E6ED865","Arn"]}`}
	want := map[string][]string{
		"s3:GetObject": wantS3Objects, "s3:GetObjectVersion": wantS3Objects,
		"kms:Decrypt":        {`"` + testS3KeyARN + `"`},
		"sqs:ReceiveMessage": q, "sqs:DeleteMessage": q, "sqs:ChangeMessageVisibility": q, "sqs:GetQueueAttributes": q,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("task role S3, SQS and KMS grants (-want +got):\n%s", d)
	}
	tpl.has(t, "AWS::EC2::VPCEndpoint", map[string]any{
		"ServiceName":     map[string]any{"Fn::Join": []any{"", []any{"com.amazonaws.", map[string]any{"Ref": "AWS::Region"}, ".s3"}}},
		"VpcEndpointType": "Gateway",
	})
	checkAlarms(t, tpl, "S3DeadLetters", "IteratorAge", "NoWorkers")
	checkS3Alarm(t, tpl)
}

// checkS3Intake checks what both modes share: the queues, S3's permission to send, the notifications of the
// existing bucket (the CDK's custom resource, leaving its other notifications alone) and of the new bucket, and
// the new bucket itself.
func checkS3Intake(t *testing.T, tpl *template, k *KinflowStack) {
	t.Helper()
	q := queue(t, tpl, "S3IntakeQueue")
	dlq := queue(t, tpl, "S3IntakeDeadLetters")
	if q["SqsManagedSseEnabled"] != true || dlq["SqsManagedSseEnabled"] != true {
		t.Errorf("queues not encrypted: %s %s", jsonString(q), jsonString(dlq))
	}
	if dlq["MessageRetentionPeriod"] != 1209600.0 || q["MessageRetentionPeriod"].(float64) >= 1209600 {
		t.Errorf("retention: queue %v, dead letters %v; want the dead letters longer, 14 days", q["MessageRetentionPeriod"], dlq["MessageRetentionPeriod"])
	}
	if jsonString(q["RedrivePolicy"]) != `{"deadLetterTargetArn":{"Fn::GetAtt":["S3IntakeDeadLetters7F62ECA5","Arn"]},"maxReceiveCount":5}` {
		t.Errorf("redrive: %s", jsonString(q["RedrivePolicy"]))
	}
	// TLS only on both, and S3 may send from the configured buckets of this account only.
	for _, name := range []string{"S3IntakeQueue", "S3IntakeDeadLetters"} {
		tpl.has(t, "AWS::SQS::QueuePolicy", map[string]any{
			"Queues": []any{map[string]any{"Ref": assertions.Match_StringLikeRegexp(stringp("^" + name))}},
			"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Effect": "Deny", "Action": "sqs:*", "Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
			})})},
		})
	}
	tpl.has(t, "AWS::SQS::QueuePolicy", map[string]any{
		"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
			"Effect": "Allow", "Action": "sqs:SendMessage", "Principal": map[string]any{"Service": "s3.amazonaws.com"},
			"Condition": map[string]any{
				"ArnLike": map[string]any{"aws:SourceArn": []any{
					map[string]any{"Fn::Sub": "arn:${AWS::Partition}:s3:::corp-logs"},
					map[string]any{"Fn::GetAtt": []any{"S3IntakeBucket8653AABD", "Arn"}},
				}},
				"StringEquals": map[string]any{"aws:SourceAccount": map[string]any{"Ref": "AWS::AccountId"}},
			},
		})})},
	})

	// Notifications: the existing bucket by name (Managed false: its other notifications stay), one per prefix;
	// the new bucket's whole. Each waits for the queue policy (S3 tests the destination).
	notes := tpl.resources("Custom::S3BucketNotifications")
	if len(notes) != 2 {
		t.Fatalf("notification resources: %d, want 2", len(notes))
	}
	var prefixes []string
	for id, r := range notes {
		p := r["Properties"].(map[string]any)
		if !strings.Contains(jsonString(r["DependsOn"]), "S3IntakeQueuePolicy") {
			t.Errorf("%s does not wait for the queue policy: %v", id, r["DependsOn"])
		}
		qcs := p["NotificationConfiguration"].(map[string]any)["QueueConfigurations"].([]any)
		for _, qc := range qcs {
			qc := qc.(map[string]any)
			if jsonString(qc["Events"]) != `["s3:ObjectCreated:*"]` || !strings.Contains(jsonString(qc["QueueArn"]), "S3IntakeQueue") {
				t.Errorf("%s: %s", id, jsonString(qc))
			}
		}
		switch p["BucketName"] {
		case testBucket:
			if p["Managed"] != false {
				t.Errorf("existing bucket's notifications managed: %v (would replace its other notifications)", p["Managed"])
			}
			for _, qc := range qcs {
				rules := qc.(map[string]any)["Filter"].(map[string]any)["Key"].(map[string]any)["FilterRules"].([]any)
				prefixes = append(prefixes, rules[0].(map[string]any)["Value"].(string))
			}
		default:
			if jsonString(p["BucketName"]) != `{"Ref":"S3IntakeBucket8653AABD"}` || len(qcs) != 1 || qcs[0].(map[string]any)["Filter"] != nil {
				t.Errorf("new bucket's notifications: %s", jsonString(p))
			}
		}
	}
	slices.Sort(prefixes)
	if d := cmp.Diff([]string{"AWSLogs/123456789012/vpcflowlogs/", "copied/alb/"}, prefixes); d != "" {
		t.Errorf("existing bucket's prefix filters (-want +got):\n%s", d)
	}

	// The new bucket: SSE-S3, versioned, no public access, TLS only, access logs into the second bucket; log
	// delivery of this account may write under AWSLogs/<account>/.
	tpl.has(t, "AWS::S3::Bucket", map[string]any{
		"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{map[string]any{
			"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "AES256"},
		}}},
		"VersioningConfiguration": map[string]any{"Status": "Enabled"},
		"PublicAccessBlockConfiguration": map[string]any{
			"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
		},
		"LoggingConfiguration": map[string]any{
			"DestinationBucketName": map[string]any{"Ref": assertions.Match_StringLikeRegexp(stringp("^S3IntakeAccessLogs"))},
		},
	})
	if n := tpl.count("AWS::S3::Bucket"); n != 2 {
		t.Errorf("buckets: %d, want 2 (intake, its access logs)", n)
	}
	for id, r := range tpl.resources("AWS::S3::Bucket") {
		if r["DeletionPolicy"] != "Retain" || r["Properties"].(map[string]any)["AccessControl"] != nil {
			t.Errorf("%s: deletion %v, ACL %v; want retained (retainData) and no legacy ACL", id, r["DeletionPolicy"], r["Properties"].(map[string]any)["AccessControl"])
		}
	}
	tpl.has(t, "AWS::S3::BucketPolicy", map[string]any{
		"Bucket": map[string]any{"Ref": "S3IntakeBucket8653AABD"},
		"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
			assertions.Match_ObjectLike(&map[string]any{"Effect": "Deny", "Action": "s3:*", "Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}}),
			assertions.Match_ObjectLike(&map[string]any{"Sid": "LogDeliveryWrite", "Principal": map[string]any{"Service": "delivery.logs.amazonaws.com"},
				"Condition": map[string]any{"StringEquals": map[string]any{
					"aws:SourceAccount": map[string]any{"Ref": "AWS::AccountId"}, "s3:x-amz-acl": "bucket-owner-full-control",
				}}}),
		})},
	})
	checkLeastPrivilege(t, tpl)
	if k.S3Intake == nil || k.S3Intake.Routes == nil || *k.S3Intake.Routes != wantS3Routes {
		t.Errorf("routes: %v", k.S3Intake)
	}
}

// checkS3Alarm: the dead-letter queue alarms on its first message, into the alarms of the dashboard.
func checkS3Alarm(t *testing.T, tpl *template) {
	t.Helper()
	tpl.has(t, "AWS::CloudWatch::Alarm", map[string]any{
		"Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
		"Dimensions": []any{map[string]any{"Name": "QueueName", "Value": map[string]any{
			"Fn::GetAtt": []any{"S3IntakeDeadLetters7F62ECA5", "QueueName"},
		}}},
		"Threshold": 0, "ComparisonOperator": "GreaterThanThreshold",
	})
	dash := jsonString(tpl.only(t, "AWS::CloudWatch::Dashboard")["DashboardBody"])
	for _, want := range []string{"S3 intake: notifications waiting", "S3 intake: dead letters", "MonitoringS3DeadLetters"} {
		if !strings.Contains(dash, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
}

// The alarm notifies the alarms topic when there is one.
func TestS3AlarmTopic(t *testing.T) {
	p := lambdaProps(t)
	p.S3.Sources = []S3Source{{Bucket: testBucket}}
	p.Alarms.TopicARN = "arn:aws:sns:eu-west-1:123456789012:ops"
	tpl := templateOf(t, must(build(t, p, "")))
	tpl.has(t, "AWS::CloudWatch::Alarm", map[string]any{
		"MetricName":   "ApproximateNumberOfMessagesVisible",
		"Dimensions":   []any{map[string]any{"Name": "QueueName", "Value": map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(stringp("^S3IntakeDeadLetters")), "QueueName"}}}},
		"AlarmActions": []any{"arn:aws:sns:eu-west-1:123456789012:ops"},
		"OKActions":    []any{"arn:aws:sns:eu-west-1:123456789012:ops"},
	})
	// A whole bucket: bucket/*, no new bucket, no key, no routes.
	got := tpl.grantedResources(func(a string) bool { return !strings.HasPrefix(a, "s3:") && !strings.HasPrefix(a, "kms:") }, "LambdaObjectsRole")
	if d := cmp.Diff(map[string][]string{
		"s3:GetObject":        {`{"Fn::Sub":"arn:${AWS::Partition}:s3:::corp-logs/*"}`},
		"s3:GetObjectVersion": {`{"Fn::Sub":"arn:${AWS::Partition}:s3:::corp-logs/*"}`},
	}, got); d != "" {
		t.Errorf("whole-bucket grants (-want +got):\n%s", d)
	}
	if tpl.count("AWS::S3::Bucket") != 0 || env(t, lambdaFunction(t, tpl, "objects"))[EnvS3Routes] != nil {
		t.Error("a bucket or routes nobody asked for")
	}
}

// With a new domain every function, the objects function too, runs as the domain's master user.
func TestS3SharedRole(t *testing.T) {
	p := lambdaProps(t)
	p.Sink = SinkConfig{Kind: SinkOpenSearch, NewDomain: ptr(DefaultDomain())}
	p.S3 = s3Props(p.S3)
	k, _ := build(t, p, "")
	tpl := templateOf(t, k)
	if id := roleOf(lambdaFunction(t, tpl, "objects")); !strings.HasPrefix(id, "LambdaRole") {
		t.Errorf("objects function runs as %s, want the shared role", id)
	}
	if n := len(k.Lambda.Roles()); n != 1 {
		t.Errorf("roles: %d, want 1", n)
	}
	if got := tpl.grants("LambdaRole", "s3:GetObject"); len(got) != 1 || len(got[0].Resource) != 3 {
		t.Errorf("shared role s3:GetObject: %+v", got)
	}
	master := tpl.only(t, "AWS::OpenSearchService::Domain")["AdvancedSecurityOptions"].(map[string]any)["MasterUserOptions"].(map[string]any)["MasterUserARN"]
	if fn := lambdaFunction(t, tpl, "objects"); jsonString(fn["Role"]) != jsonString(master) {
		t.Errorf("objects function runs as %s, the domain's master user is %s", jsonString(fn["Role"]), jsonString(master))
	}
}

func queue(t *testing.T, tpl *template, prefix string) map[string]any {
	t.Helper()
	for id, r := range tpl.resources("AWS::SQS::Queue") {
		if strings.HasPrefix(id, prefix) {
			return r["Properties"].(map[string]any)
		}
	}
	t.Fatalf("no queue %s", prefix)
	return nil
}

func TestParseS3Sources(t *testing.T) {
	tests := map[string]struct {
		in   any // a -c string, or what cdk.json gives
		want []S3Source
		err  string
	}{
		"compact": {in: "corp-logs/AWSLogs/, corp-logs/copied/alb/=alb,other",
			want: []S3Source{{Bucket: "corp-logs", Prefixes: []string{"AWSLogs/"}}, {Bucket: "corp-logs", Prefixes: []string{"copied/alb/"}, Kind: "alb"}, {Bucket: "other"}}},
		"compact merges a bucket's prefixes": {in: "b/x/,b/y/",
			want: []S3Source{{Bucket: "b", Prefixes: []string{"x/", "y/"}}}},
		"hive prefix keeps its =": {in: "b/AWSLogs/aws-account-id=123456789012/",
			want: []S3Source{{Bucket: "b", Prefixes: []string{"AWSLogs/aws-account-id=123456789012/"}}}},
		"json string": {in: `[{"bucket": "b", "prefixes": ["x/", "y/"], "kind": "nlb"}, "c/z/"]`,
			want: []S3Source{{Bucket: "b", Prefixes: []string{"x/", "y/"}, Kind: "nlb"}, {Bucket: "c", Prefixes: []string{"z/"}}}},
		"cdk.json array": {in: []any{map[string]any{"bucket": "b", "prefixes": []any{"x/"}}},
			want: []S3Source{{Bucket: "b", Prefixes: []string{"x/"}}}},
		"misspelt field":   {in: `[{"bucket": "b", "prefix": "x/"}]`, err: `unknown field "prefix"`},
		"not json":         {in: `[{"bucket": }]`, err: "s3Sources: want a JSON array"},
		"empty kind":       {in: "b/x/=", err: "an empty kind"},
		"a number":         {in: 3.0, err: "s3Sources: want a list"},
		"array of numbers": {in: []any{3.0}, err: "s3Sources: [0]"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, _, err := FromContext(func(k string) any { return map[string]any{"s3Sources": tc.in}[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, p.S3.Sources); d != "" {
				t.Errorf("sources (-want +got):\n%s", d)
			}
		})
	}
}

// Bad S3 context is refused, every problem at once, each naming its key.
func TestValidateS3(t *testing.T) {
	zip := lambdaZip(t)
	tests := map[string]struct {
		ctx  map[string]any
		want []string
	}{
		"valid": {ctx: map[string]any{"s3Sources": "corp-logs/AWSLogs/,corp-logs/copied/=alb", "s3NewBucket": "true",
			"s3KmsKeyArn": testS3KeyARN, "s3MaxReceives": "10", "s3BatchSize": "10", "s3LambdaTimeoutSeconds": "900"}},
		"the only source": {ctx: map[string]any{"logGroupNames": nil, "s3NewBucket": "true"}},
		"no source at all": {ctx: map[string]any{"logGroupNames": nil},
			want: []string{"no source: set logGroupNames, flowLogVpcIds, accountSubscriptionPolicy, s3Sources or s3NewBucket"}},
		"everything wrong": {ctx: map[string]any{
			"s3Sources": `[{"bucket": "Corp_Logs", "prefixes": ["/x", "a*"]}, {"bucket": "b", "kind": "csv"},
				{"bucket": "c", "prefixes": ["AWSLogs/", "AWSLogs/1/"]}, {"bucket": "d", "prefixes": ["k=v/"], "kind": "alb"},
				{"bucket": "e", "prefixes": ["${x}/"]}, "c/AWSLogs/"]`,
			"s3KmsKeyArn": "alias/logs", "s3MaxReceives": "0", "s3BatchSize": "11", "s3LambdaTimeoutSeconds": "901",
			"s3LambdaMemoryMb": "64",
		}, want: []string{
			`s3Sources[0]: bucket "Corp_Logs"`, `s3Sources[0]: prefix "/x"`, `s3Sources[0]: prefix "a*"`,
			`s3Sources[1]: kind "csv": want one of vpcflow, vpcflow-parquet, alb, alb-connection, nlb, elb`,
			`s3Sources: bucket "c": prefixes "AWSLogs/" and "AWSLogs/1/" overlap`,
			`s3Sources: bucket "c": prefixes "AWSLogs/" and "AWSLogs/" overlap`,
			`s3Sources[3]: prefix "k=v/" with a kind`, `s3Sources[4]: prefix "${x}/"`,
			`s3KmsKeyArn "alias/logs": want a key ARN`, "s3MaxReceives 0", "s3BatchSize 11", "s3LambdaTimeoutSeconds 901",
			"s3LambdaMemoryMb 64",
		}},
		"key without sources": {ctx: map[string]any{"s3NewBucket": "true", "s3KmsKeyArn": testS3KeyARN},
			want: []string{"s3KmsKeyArn is set without s3Sources"}},
		"whole bucket overlaps a prefix": {ctx: map[string]any{"s3Sources": "corp-logs,corp-logs/x/"},
			want: []string{`bucket "corp-logs": prefixes "" and "x/" overlap`}},
		// The consumer has no function: the function's keys are not its concern.
		"consumer ignores the function's keys": {ctx: map[string]any{"mode": "consumer", "consumerImage": "x:1",
			"s3Sources": "corp-logs", "s3BatchSize": "50"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx := map[string]any{"lambdaZip": zip, "logGroupNames": "/vpc/flowlogs", "sinkUrl": "https://search.example.com"}
			for k, v := range tc.ctx {
				ctx[k] = v
			}
			p, _, err := FromContext(func(k string) any { return ctx[k] })
			if err != nil {
				t.Fatal(err)
			}
			wantProblems(t, p.Validate(), tc.want)
		})
	}
}
