package kinflowstack

import (
	"archive/zip"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

func TestMain(m *testing.M) {
	// The jsii runtime is a node child process shared by every test of this binary.
	os.Setenv("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
	code := m.Run()
	if synthDir != "" {
		os.RemoveAll(synthDir)
	}
	jsii.Close()
	os.Exit(code)
}

const (
	testSecret        = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:kinflow/es-AbCdEf"
	testWebhookSecret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:kinflow/hmac"
	testDomainARN     = "arn:aws:es:eu-west-1:123456789012:domain/flows"
)

// lambdaZip writes a zip holding a dummy bootstrap, like `make lambda` will.
func lambdaZip(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "lambda-arm64.zip")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	zw := zip.NewWriter(f)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: time.Unix(0, 0)}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err == nil {
		_, err = w.Write([]byte("#!/bin/sh\necho kinflow\n"))
	}
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		tb.Fatal(err)
	}
	return path
}

// dockerDir writes a directory with a Dockerfile (synth hashes it; no Docker engine is needed).
func dockerDir(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY kinflow /kinflow\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}

func lambdaProps(tb testing.TB) Props {
	p := DefaultProps()
	p.Mode = ModeLambda
	p.Lambda.ZipPath = lambdaZip(tb)
	p.Sources.LogGroupNames = []string{"/vpc/flowlogs/prod", "/vpc/flowlogs/staging"}
	p.Sink.URL = "https://search.example.com:9243"
	p.Sink.SecretARN = testSecret
	return p
}

func consumerProps(tb testing.TB) Props {
	p := DefaultProps()
	p.Mode = ModeConsumer
	p.Consumer.DockerDir = dockerDir(tb)
	p.Consumer.Dockerfile = "Dockerfile"
	p.Stream.Mode = StreamProvisioned
	p.Stream.ShardCount = 4
	p.Sources.LogGroupNames = []string{"/vpc/flowlogs/prod"}
	p.Sink.URL = "https://search.example.com:9243"
	p.Sink.SecretARN = testSecret
	return p
}

// scenarios are the configurations synthesized by the template, cfn-lint, cdk-nag tests: every mode and option.
func scenarios(tb testing.TB) map[string]Props {
	lambdaAll := lambdaProps(tb)
	lambdaAll.Stream.Encryption = EncryptionKMS
	lambdaAll.Stream.Mode = StreamProvisioned
	lambdaAll.Stream.ShardCount = 2
	lambdaAll.Sources.AccountPolicy = true
	lambdaAll.Sources.AccountPolicyExclude = []string{"/aws/lambda/noisy"}
	lambdaAll.Sources.FlowLogVPCIDs = []string{"vpc-0123456789abcdef0", "vpc-0fedcba9876543210"}
	lambdaAll.Sources.LogGroupFormats = map[string]string{"/vpc/flowlogs/staging": "v5"}
	lambdaAll.Lambda.BatchSize = 500
	lambdaAll.Lambda.BatchingWindowSeconds = 10
	lambdaAll.Lambda.ParallelizationFactor = 4
	lambdaAll.Lambda.RetryAttempts = 3
	lambdaAll.Lambda.MaxRecordAgeSeconds = 3600
	lambdaAll.Webhook = WebhookConfig{URL: "https://hooks.example.com/kinflow", SecretARN: testWebhookSecret}
	lambdaAll.Alarms.TopicARN = "arn:aws:sns:eu-west-1:123456789012:ops"

	lambdaDomain := lambdaProps(tb)
	lambdaDomain.Sink = SinkConfig{Kind: SinkOpenSearch, NewDomain: ptr(DefaultDomain())}

	consumerDomain := consumerProps(tb)
	consumerDomain.Stream.Encryption = EncryptionKMS
	d := DefaultDomain()
	d.InstanceCount = 2
	d.DedicatedMasterType = "m7g.large.search"
	consumerDomain.Sink = SinkConfig{Kind: SinkOpenSearch, NewDomain: &d}
	consumerDomain.Webhook = WebhookConfig{URL: "https://hooks.example.com/kinflow", SecretARN: testWebhookSecret}

	consumerSigV4 := consumerProps(tb)
	consumerSigV4.Stream.Mode = StreamOnDemand
	consumerSigV4.Consumer.Image = "public.ecr.aws/kinflow/consumer:1.0.0"
	consumerSigV4.Consumer.NatGateways = 0
	consumerSigV4.Sink = SinkConfig{Kind: SinkOpenSearch, URL: "https://search-flows.eu-west-1.es.amazonaws.com", DomainARN: testDomainARN}
	consumerSigV4.Sources.FlowLogVPCIDs = []string{"vpc-0123456789abcdef0"}
	consumerSigV4.Sources.FlowLogFormat = "${srcaddr} ${dstaddr} ${start} ${end} ${action} ${reject-reason}"

	lambdaS3 := lambdaProps(tb)
	lambdaS3.S3 = s3Props(lambdaS3.S3)
	consumerS3 := consumerProps(tb)
	consumerS3.S3 = s3Props(consumerS3.S3)

	lambdaEnrich := lambdaProps(tb)
	lambdaEnrich.S3.Sources = []S3Source{{Bucket: testBucket}}
	lambdaEnrich.Enrich = enrichProps(lambdaEnrich.Enrich)
	consumerEnrich := consumerProps(tb)
	consumerEnrich.Enrich = enrichProps(consumerEnrich.Enrich)
	consumerEnrich.Enrich.Regions = []string{"eu-west-1", "us-east-1"}
	consumerEnrich.Enrich.ThreatLists["local"] = "/opt/lists/local.txt" // in the image: nothing to grant

	return map[string]Props{
		"lambda-s3":       lambdaS3,
		"consumer-s3":     consumerS3,
		"lambda-enrich":   lambdaEnrich,
		"consumer-enrich": consumerEnrich,
		"lambda":          lambdaProps(tb),
		"lambda-all":      lambdaAll,
		"lambda-domain":   lambdaDomain,
		"consumer":        consumerProps(tb),
		"consumer-domain": consumerDomain,
		"consumer-sigv4":  consumerSigV4,
	}
}

const (
	testBucket   = "corp-logs"
	testS3KeyARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)

// s3Props adds the S3 intake: one existing bucket with two prefixes (AWS's layout, and copied ALB logs routed by
// kind), its KMS key, and a new bucket.
func s3Props(c S3Config) S3Config {
	c.Sources = []S3Source{
		{Bucket: testBucket, Prefixes: []string{"AWSLogs/123456789012/vpcflowlogs/"}},
		{Bucket: testBucket, Prefixes: []string{"copied/alb/"}, Kind: "alb"},
	}
	c.NewBucket = true
	c.KMSKeyARN = testS3KeyARN
	return c
}

func ptr[T any](v T) *T { return &v }

// build synthesizes props into a fresh app (in outdir when not empty).
func build(tb testing.TB, props Props, outdir string) (*KinflowStack, awscdk.App) {
	tb.Helper()
	ap := &awscdk.AppProps{}
	if outdir != "" {
		ap.Outdir = jsii.String(outdir)
	}
	app := awscdk.NewApp(ap)
	k, err := NewKinflowStack(app, "Kinflow", props)
	if err != nil {
		tb.Fatalf("NewKinflowStack: %v", err)
	}
	return k, app
}

// template is the synthesized template as JSON values.
type template struct {
	a   assertions.Template
	doc map[string]any
}

func templateOf(tb testing.TB, k *KinflowStack) *template {
	tb.Helper()
	a := assertions.Template_FromStack(k.Stack, nil)
	raw, err := json.Marshal(a.ToJSON())
	if err != nil {
		tb.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		tb.Fatal(err)
	}
	return &template{a: a, doc: doc}
}

// resources returns the resources of one type by logical id.
func (t *template) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range t.doc["Resources"].(map[string]any) {
		r := r.(map[string]any)
		if r["Type"] == typ {
			out[id] = r
		}
	}
	return out
}

func (t *template) count(typ string) int { return len(t.resources(typ)) }

// only returns the properties of the single resource of a type.
func (t *template) only(tb testing.TB, typ string) map[string]any {
	tb.Helper()
	rs := t.resources(typ)
	if len(rs) != 1 {
		tb.Fatalf("%s: %d resources, want 1", typ, len(rs))
	}
	for _, r := range rs {
		p, _ := r["Properties"].(map[string]any)
		return p
	}
	return nil
}

// has runs an assertions matcher, turning its exception (a panic through jsii) into a test error.
func (t *template) has(tb testing.TB, typ string, props any) {
	tb.Helper()
	defer func() {
		if r := recover(); r != nil {
			tb.Errorf("%s: %v", typ, r)
		}
	}()
	t.a.HasResourceProperties(jsii.String(typ), props)
}

// statement is one IAM statement with the logical id of the policy that holds it.
type statement struct {
	Policy   string
	Sid      string
	Actions  []string
	Resource []any
	raw      map[string]any
}

// statements lists the statements of every identity policy (AWS::IAM::Policy and inline role policies).
func (t *template) statements() []statement {
	var out []statement
	add := func(id string, doc any) {
		d, _ := doc.(map[string]any)
		sts, _ := d["Statement"].([]any)
		for _, s := range sts {
			s := s.(map[string]any)
			st := statement{Policy: id, raw: s}
			st.Sid, _ = s["Sid"].(string)
			switch a := s["Action"].(type) {
			case string:
				st.Actions = []string{a}
			case []any:
				for _, x := range a {
					st.Actions = append(st.Actions, x.(string))
				}
			}
			switch r := s["Resource"].(type) {
			case []any:
				st.Resource = r
			default:
				st.Resource = []any{r}
			}
			out = append(out, st)
		}
	}
	for id, r := range t.resources("AWS::IAM::Policy") {
		add(id, r["Properties"].(map[string]any)["PolicyDocument"])
	}
	for id, r := range t.resources("AWS::IAM::Role") {
		ps, _ := r["Properties"].(map[string]any)["Policies"].([]any)
		for _, p := range ps {
			add(id, p.(map[string]any)["PolicyDocument"])
		}
	}
	return out
}

// grants reports whether a statement of a policy whose logical id starts with prefix allows action.
func (t *template) grants(prefix, action string) []statement {
	var out []statement
	for _, s := range t.statements() {
		if len(s.Policy) >= len(prefix) && s.Policy[:len(prefix)] == prefix {
			for _, a := range s.Actions {
				if a == action {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// grantedResources maps each action allowed by the policies of the roles with these logical id prefixes to the
// sorted resources (as JSON) it is allowed on, leaving out the actions skip reports.
func (t *template) grantedResources(skip func(action string) bool, prefixes ...string) map[string][]string {
	out := map[string][]string{}
	for _, s := range t.statements() {
		if s.raw["Effect"] != "Allow" || !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(s.Policy, p) }) {
			continue
		}
		for _, a := range s.Actions {
			if skip(a) {
				continue
			}
			for _, r := range s.Resource {
				if j := jsonString(r); !slices.Contains(out[a], j) {
					out[a] = append(out[a], j)
				}
			}
		}
	}
	for _, rs := range out {
		slices.Sort(rs)
	}
	return out
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func env(tb testing.TB, fn map[string]any) map[string]any {
	tb.Helper()
	e, ok := fn["Environment"].(map[string]any)
	if !ok {
		tb.Fatalf("no Environment in %s", jsonString(fn))
	}
	return e["Variables"].(map[string]any)
}

// wantProblems holds the error of Props.Validate to want: nil when want is empty, else an error naming each of want.
func wantProblems(tb testing.TB, err error, want []string) {
	tb.Helper()
	if len(want) == 0 {
		if err != nil {
			tb.Fatalf("Validate: %v", err)
		}
		return
	}
	if err == nil {
		tb.Fatalf("Validate: nil, want %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			tb.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}
