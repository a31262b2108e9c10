// Package kinflowstack owns kinflow's AWS deployment: the CloudFormation stack behind `cdk deploy`, built from small
// constructs (Stream, Subscriptions, FlowLogs, LambdaProcessor, ConsumerService, Destination, Monitoring) and
// configured by one Props value that the app reads from CDK context. It imports no runtime package of kinflow, only
// the settings registry (internal/settings): every context key it reads is a row there, and the runtimes receive
// their configuration through the rows' environment variables (env.go).
package kinflowstack

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"

	"github.com/kinflow/kinflow/internal/settings"
)

// Mode selects the runtime that reads the stream.
type Mode string

const (
	// ModeLambda runs the Go function behind a Kinesis event source mapping, plus a scheduled finalizer function.
	ModeLambda Mode = "lambda"
	// ModeConsumer runs the KCL consumer as an ECS Fargate service with a DynamoDB lease table.
	ModeConsumer Mode = "consumer"
)

// Modes lists the allowed processing modes.
var Modes = []Mode{ModeLambda, ModeConsumer}

// StreamMode is the capacity mode of the Kinesis data stream.
type StreamMode string

const (
	StreamOnDemand    StreamMode = "on-demand"
	StreamProvisioned StreamMode = "provisioned"
)

// StreamEncryption says which KMS key encrypts the stream at rest.
type StreamEncryption string

const (
	// EncryptionKMS uses a customer-managed key created by the stack, with yearly rotation.
	EncryptionKMS StreamEncryption = "kms"
	// EncryptionManaged uses the AWS-managed key aws/kinesis (no key cost, no key policy to own).
	EncryptionManaged StreamEncryption = "managed"
)

// SinkKind is the search engine kinflow writes to; it decides the client and the index templates.
type SinkKind string

const (
	SinkElasticsearch SinkKind = "elasticsearch"
	SinkOpenSearch    SinkKind = "opensearch"
)

// StreamConfig describes the Kinesis data stream.
type StreamConfig struct {
	Name           string // physical name; empty lets CloudFormation choose one
	Mode           StreamMode
	ShardCount     int // provisioned mode only
	RetentionHours int // 24 to 8760
	Encryption     StreamEncryption
}

// SourcesConfig describes what feeds the stream: subscription filters on existing log groups, optionally an
// account-level subscription policy, and optionally VPC flow logs created by the stack.
type SourcesConfig struct {
	// LogGroupNames are existing log groups (of VPC flow logs) that get a subscription filter into the stream.
	LogGroupNames []string
	// LogGroupFormats maps a log group name to its flow-log format (the `${field} ...` string) for groups whose
	// format is not the default; the runtime parses each group with its own format.
	LogGroupFormats map[string]string
	// FilterPattern of every subscription filter; empty forwards every event.
	FilterPattern string
	// AccountPolicy creates an account-level subscription filter policy (every log group of the account and region,
	// except kinflow's own and AccountPolicyExclude) instead of one filter per group.
	AccountPolicy        bool
	AccountPolicyExclude []string

	// FlowLogVPCIDs are VPCs for which the stack creates flow logs into its own log group (subscribed as well).
	FlowLogVPCIDs []string
	// FlowLogFormat is a named format (see FlowLogFormats) or a custom `${field} ...` string.
	FlowLogFormat string
	// FlowLogGroupName names the flow-log group; empty lets CloudFormation choose one.
	FlowLogGroupName     string
	FlowLogRetentionDays int
	// FlowLogAggregationSeconds is 60 or 600: the longest a flow is aggregated before it is written.
	FlowLogAggregationSeconds int
}

// LambdaConfig describes lambda mode: the batch function, its event source mapping and the finalizer function.
type LambdaConfig struct {
	// ZipPath is the built function: a zip holding `bootstrap` for provided.al2023 on arm64 (`make lambda`).
	ZipPath               string
	MemoryMB              int
	TimeoutSeconds        int
	BatchSize             int
	BatchingWindowSeconds int
	ParallelizationFactor int
	RetryAttempts         int // -1 retries until the record expires
	MaxRecordAgeSeconds   int // -1 keeps records until they expire from the stream
	BisectOnError         bool
	StartingPosition      string // TRIM_HORIZON or LATEST
	FinalizerMemoryMB     int
	FinalizerTimeout      int // seconds
}

// S3Source is an existing bucket whose ObjectCreated notifications under Prefixes go to the intake queue.
type S3Source struct {
	Bucket string `json:"bucket"`
	// Prefixes filter the notifications and bound the readers' s3:GetObject; none means the whole bucket.
	Prefixes []string `json:"prefixes"`
	// Kind, when set, is the log family of these prefixes' objects (a KINFLOW_S3_ROUTES override) for keys outside
	// AWS's own layouts; empty lets the runtime route by those layouts.
	Kind string `json:"kind"`
}

// prefixes returns the source's prefixes, "" (the whole bucket) when it names none.
func (s S3Source) prefixes() []string {
	if len(s.Prefixes) == 0 {
		return []string{""}
	}
	return s.Prefixes
}

// S3Config describes the S3 intake: logs AWS writes to S3 (VPC flow logs, load balancer access logs), announced by
// ObjectCreated notifications into an SQS queue that the objects function (lambda mode) or the consumer reads.
type S3Config struct {
	Sources []S3Source
	// NewBucket creates a bucket of the stack's for AWS to deliver logs into; all of it feeds the intake.
	NewBucket bool
	// KMSKeyARN is the key encrypting the sources' objects (SSE-KMS); empty: none to grant.
	KMSKeyARN string
	// MaxReceives is the receive count after which a notification moves to the dead-letter queue.
	MaxReceives int
	// The objects function (lambda mode).
	LambdaMemoryMB       int
	LambdaTimeoutSeconds int
	BatchSize            int
}

// Enabled reports whether the stack deploys the S3 intake.
func (c S3Config) Enabled() bool { return len(c.Sources) > 0 || c.NewBucket }

// S3Kinds are the kinds an S3 source may name: the runtime's KINFLOW_S3_ROUTES kinds.
var S3Kinds = []string{"vpcflow", "vpcflow-parquet", "alb", "alb-connection", "nlb", "elb"}

// ConsumerConfig describes consumer mode: the Fargate service running the KCL consumer.
type ConsumerConfig struct {
	// Image is a container image URI; when empty the image is built from DockerDir/Dockerfile at deploy time.
	Image      string
	DockerDir  string
	Dockerfile string // relative to DockerDir
	CPU        int    // Fargate CPU units
	MemoryMB   int
	MinTasks   int
	// MaxTasks caps the service; 0 means the shard count (provisioned) or 4 (on-demand). A KCL worker holds one or
	// more shard leases, so more workers than shards would sit idle.
	MaxTasks int
	// VPCID is an existing VPC (looked up at synth, needs credentials); empty creates a VPC with NatGateways.
	VPCID       string
	NatGateways int
	// HealthCommand is the container health check; the consumer answers it from its own process.
	HealthCommand []string
	// ContainerInsights enables the cluster's Container Insights metrics (billed per metric).
	ContainerInsights bool
}

// DomainConfig describes a new Amazon OpenSearch Service domain.
type DomainConfig struct {
	Name          string // 3 to 28 lowercase letters, digits and hyphens
	EngineVersion string // e.g. OpenSearch_2.19
	InstanceType  string
	InstanceCount int
	VolumeGB      int
	// DedicatedMasterType adds three dedicated master nodes of this type; empty runs without (small domains).
	DedicatedMasterType string
}

// SinkConfig is where documents go: an existing endpoint (Elasticsearch or OpenSearch) or a new domain.
type SinkConfig struct {
	Kind SinkKind
	// URL of an existing endpoint (https). Empty with NewDomain set.
	URL string
	// SecretARN names a Secrets Manager secret with the endpoint's credentials (basic auth or API key).
	SecretARN string
	// DomainARN of an existing Amazon OpenSearch Service domain: requests are signed with SigV4 instead.
	DomainARN string
	// NewDomain creates an Amazon OpenSearch Service domain with fine-grained access control and IAM (SigV4).
	NewDomain *DomainConfig
}

// WebhookConfig is the receiver of closed windows; SecretARN holds the HMAC-SHA256 key.
type WebhookConfig struct {
	URL       string
	SecretARN string
}

// DetectionsConfig is passed through to the finalizer: whether it runs the detection rules, and the IPs and CIDRs
// no rule alerts on (the other thresholds are the runtimes' defaults, or their environment).
type DetectionsConfig struct {
	Enabled bool
	Allow   []string
}

// PipelineConfig is passed through to the runtimes.
type PipelineConfig struct {
	IndexPrefix     string
	Window          time.Duration
	AllowedLateness time.Duration
}

// AlarmsConfig sets alarm thresholds and where alarms notify.
type AlarmsConfig struct {
	// TopicARN of an existing SNS topic notified on alarm and OK; empty leaves alarms without actions.
	TopicARN           string
	IteratorAgeMinutes int
	DeadLettersPer5Min int
	DashboardName      string
}

// Props configures the whole stack.
type Props struct {
	StackProps awscdk.StackProps
	Mode       Mode
	Stream     StreamConfig
	Sources    SourcesConfig
	S3         S3Config
	Lambda     LambdaConfig
	Consumer   ConsumerConfig
	Sink       SinkConfig
	Webhook    WebhookConfig
	// AlertsWebhook receives each finalized window's alerts; SecretARN holds its HMAC-SHA256 key.
	AlertsWebhook WebhookConfig
	Detections    DetectionsConfig
	// Enrich is passed to the runtimes that run the pipeline, with the grants its sources need.
	Enrich   EnrichConfig
	Pipeline PipelineConfig
	Alarms   AlarmsConfig
	// RetainData keeps the OpenSearch domain and the flow-log group on `cdk destroy`; everything else is deleted.
	RetainData bool
}

// DefaultProps returns a lambda-mode stack on an on-demand stream encrypted with aws/kinesis, with no sources and no sink:
// Validate reports what must still be set.
func DefaultProps() Props {
	return Props{
		Mode:       ModeLambda,
		Detections: DetectionsConfig{Enabled: true},
		Enrich:     EnrichConfig{Refresh: DefaultEnrichRefresh},
		Stream: StreamConfig{
			Mode:           StreamOnDemand,
			ShardCount:     1,
			RetentionHours: 24,
			Encryption:     EncryptionManaged,
		},
		Sources: SourcesConfig{
			FlowLogFormat:             "v8",
			FlowLogRetentionDays:      7,
			FlowLogAggregationSeconds: 60,
		},
		S3: S3Config{
			MaxReceives:          5,
			LambdaMemoryMB:       1024,
			LambdaTimeoutSeconds: 300,
			BatchSize:            5,
		},
		Lambda: LambdaConfig{
			ZipPath:               filepath.Join("dist", "lambda-arm64.zip"),
			MemoryMB:              512,
			TimeoutSeconds:        120,
			BatchSize:             100,
			BatchingWindowSeconds: 5,
			ParallelizationFactor: 1,
			RetryAttempts:         10,
			MaxRecordAgeSeconds:   21600,
			BisectOnError:         true,
			StartingPosition:      "TRIM_HORIZON",
			FinalizerMemoryMB:     512,
			FinalizerTimeout:      300,
		},
		Consumer: ConsumerConfig{
			DockerDir:         ".",
			Dockerfile:        filepath.Join("consumer", "Dockerfile"),
			CPU:               512,
			MemoryMB:          1024,
			MinTasks:          1,
			NatGateways:       1,
			HealthCommand:     []string{"CMD", "/kinflow", "health"},
			ContainerInsights: true,
		},
		Sink: SinkConfig{Kind: SinkElasticsearch},
		Pipeline: PipelineConfig{
			IndexPrefix:     "kinflow",
			Window:          10 * time.Minute,
			AllowedLateness: 15 * time.Minute,
		},
		Alarms: AlarmsConfig{
			IteratorAgeMinutes: 10,
			DeadLettersPer5Min: 1,
			DashboardName:      "",
		},
		RetainData: true,
	}
}

// DefaultDomain is the new-domain configuration used when the sink is "domain" and nothing else is said.
func DefaultDomain() DomainConfig {
	return DomainConfig{
		Name:          "kinflow",
		EngineVersion: "OpenSearch_2.19",
		InstanceType:  "t3.medium.search",
		InstanceCount: 1,
		VolumeGB:      20,
	}
}

var (
	logGroupNameRE = regexp.MustCompile(`^[\.\-_/#A-Za-z0-9]{1,512}$`)
	vpcIDRE        = regexp.MustCompile(`^vpc-[0-9a-f]{8,17}$`)
	secretARNRE    = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$`)
	domainARNRE    = regexp.MustCompile(`^arn:aws[a-z-]*:es:[a-z0-9-]+:\d{12}:domain/[a-z][a-z0-9-]{2,27}$`)
	topicARNRE     = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$`)
	domainNameRE   = regexp.MustCompile(`^[a-z][a-z0-9-]{2,27}$`)
	streamNameRE   = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)
	bucketNameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	kmsKeyARNRE    = regexp.MustCompile(`^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$`)
)

// fargateMemory lists the memory sizes (MB) Fargate accepts for each CPU value.
var fargateMemory = map[int][2]int{ // cpu -> [min, max] in MB, step 1024 above 1024 (512 and 1024 cpu allow 512 steps)
	256:  {512, 2048},
	512:  {1024, 4096},
	1024: {2048, 8192},
	2048: {4096, 16384},
	4096: {8192, 30720},
}

// Validate reports every problem at once, each naming the context key that sets it.
func (p *Props) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if !slices.Contains(Modes, p.Mode) {
		bad("mode %q: want one of %v", p.Mode, Modes)
	}

	s := p.Stream
	if s.Name != "" && !streamNameRE.MatchString(s.Name) {
		bad("streamName %q: 1 to 128 of [a-zA-Z0-9_.-]", s.Name)
	}
	switch s.Mode {
	case StreamOnDemand:
	case StreamProvisioned:
		if s.ShardCount < 1 || s.ShardCount > 10000 {
			bad("shardCount %d: want 1 to 10000 for a provisioned stream", s.ShardCount)
		}
	default:
		bad("streamMode %q: want %q or %q", s.Mode, StreamOnDemand, StreamProvisioned)
	}
	if s.RetentionHours < 24 || s.RetentionHours > 8760 {
		bad("streamRetentionHours %d: want 24 to 8760", s.RetentionHours)
	}
	if s.Encryption != EncryptionKMS && s.Encryption != EncryptionManaged {
		bad("streamEncryption %q: want %q or %q", s.Encryption, EncryptionKMS, EncryptionManaged)
	}

	src := p.Sources
	for _, g := range append(slices.Clone(src.LogGroupNames), src.AccountPolicyExclude...) {
		if !logGroupNameRE.MatchString(g) {
			bad("log group name %q: 1 to 512 of [.-_/#A-Za-z0-9]", g)
		}
	}
	for g, f := range src.LogGroupFormats {
		if !logGroupNameRE.MatchString(g) {
			bad("logGroupFormats: log group name %q: 1 to 512 of [.-_/#A-Za-z0-9]", g)
		}
		if _, err := ResolveLogGroupFormat(f); err != nil {
			bad("logGroupFormats[%q]: %w", g, err)
		}
	}
	if len(src.AccountPolicyExclude) > 40 {
		bad("accountPolicyExclude: %d log groups, at most 40 (the policy's NOT IN list holds 50, kinflow uses some)", len(src.AccountPolicyExclude))
	}
	for _, v := range src.FlowLogVPCIDs {
		if !vpcIDRE.MatchString(v) {
			bad("flowLogVpcIds: %q is not a VPC id (vpc-0123456789abcdef0)", v)
		}
	}
	if len(src.FlowLogVPCIDs) > 0 {
		if _, err := ResolveFlowLogFormat(src.FlowLogFormat); err != nil {
			bad("flowLogFormat: %w", err)
		}
		if src.FlowLogGroupName != "" && !logGroupNameRE.MatchString(src.FlowLogGroupName) {
			bad("flowLogGroupName %q: 1 to 512 of [.-_/#A-Za-z0-9]", src.FlowLogGroupName)
		}
		if src.FlowLogAggregationSeconds != 60 && src.FlowLogAggregationSeconds != 600 {
			bad("flowLogAggregationSeconds %d: want 60 or 600", src.FlowLogAggregationSeconds)
		}
		if !slices.Contains(logRetentionDays, src.FlowLogRetentionDays) {
			bad("flowLogRetentionDays %d: want one of %v", src.FlowLogRetentionDays, logRetentionDays)
		}
	}
	if len(src.LogGroupNames) == 0 && len(src.FlowLogVPCIDs) == 0 && !src.AccountPolicy && !p.S3.Enabled() {
		bad("no source: set logGroupNames, flowLogVpcIds, accountSubscriptionPolicy, s3Sources or s3NewBucket")
	}
	p.validateS3(bad)

	switch p.Mode {
	case ModeLambda:
		p.validateLambda(bad)
	case ModeConsumer:
		p.validateConsumer(bad)
	}
	p.validateSink(bad)

	for _, w := range []struct {
		key string
		cfg WebhookConfig
	}{{"webhook", p.Webhook}, {"alertsWebhook", p.AlertsWebhook}} {
		if w.cfg.URL != "" {
			if err := checkURL(w.cfg.URL); err != nil {
				bad("%sUrl: %w", w.key, err)
			}
			if !secretARNRE.MatchString(w.cfg.SecretARN) {
				bad("%sSecretArn %q: want the ARN of a Secrets Manager secret (the webhook is always signed)", w.key, w.cfg.SecretARN)
			}
		} else if w.cfg.SecretARN != "" {
			bad("%sSecretArn is set without %sUrl", w.key, w.key)
		}
	}
	if err := checkSetting(settings.DetectAllow, strings.Join(p.Detections.Allow, ",")); err != nil {
		bad("detectAllow: %w", err)
	}
	p.validateEnrich(bad)

	// What the stack passes on, the runtimes' rows check, so a deployment accepts what the runtimes do; a window
	// must also divide a day here, so that windows line up with the daily indices.
	pl := p.Pipeline
	if err := checkSetting(settings.IndexPrefix, pl.IndexPrefix); err != nil {
		bad("indexPrefix %q: %w", pl.IndexPrefix, err)
	}
	if err := checkSetting(settings.Window, pl.Window.String()); err != nil || pl.Window < time.Minute || (24*time.Hour)%pl.Window != 0 {
		bad("window %v: want 1m to 24h, dividing a day", pl.Window)
	}
	if err := checkSetting(settings.AllowedLateness, pl.AllowedLateness.String()); err != nil {
		bad("allowedLateness %v: %w", pl.AllowedLateness, err)
	}

	a := p.Alarms
	if a.TopicARN != "" && !topicARNRE.MatchString(a.TopicARN) {
		bad("alarmTopicArn %q: want the ARN of an SNS topic", a.TopicARN)
	}
	if a.IteratorAgeMinutes < 1 {
		bad("iteratorAgeAlarmMinutes %d: want at least 1", a.IteratorAgeMinutes)
	}
	if a.DeadLettersPer5Min < 1 {
		bad("deadLetterAlarmThreshold %d: want at least 1", a.DeadLettersPer5Min)
	}
	return errors.Join(errs...)
}

func (p *Props) validateS3(bad func(string, ...any)) {
	c := p.S3
	prefixes := map[string][]string{} // bucket -> prefixes, over every entry naming it
	for i, src := range c.Sources {
		if !bucketNameRE.MatchString(src.Bucket) || strings.Contains(src.Bucket, "..") {
			bad("s3Sources[%d]: bucket %q: want a bucket name (3 to 63 lowercase letters, digits, '.' and '-')", i, src.Bucket)
		}
		if src.Kind != "" && !slices.Contains(S3Kinds, src.Kind) {
			bad("s3Sources[%d]: kind %q: want one of %s (or none: AWS's key layouts)", i, src.Kind, strings.Join(S3Kinds, ", "))
		}
		for _, pre := range src.prefixes() {
			switch {
			case len(pre) > 1024:
				bad("s3Sources[%d]: prefix %.40q...: longer than a key (1024)", i, pre)
			case strings.HasPrefix(pre, "/"):
				bad("s3Sources[%d]: prefix %q: keys do not start with '/'", i, pre)
			case strings.ContainsAny(pre, "*?"):
				bad("s3Sources[%d]: prefix %q: '*' and '?' would be wildcards in the IAM grant; notifications filter by plain prefix", i, pre)
			case strings.Contains(pre, "${"):
				bad("s3Sources[%d]: prefix %q: '${' would read as a CloudFormation substitution", i, pre)
			case src.Kind != "" && strings.ContainsAny(pre, "=;"):
				bad("s3Sources[%d]: prefix %q with a kind: '=' and ';' cannot be written in KINFLOW_S3_ROUTES", i, pre)
			}
			prefixes[src.Bucket] = append(prefixes[src.Bucket], pre)
		}
	}
	// S3 refuses notification filters of one event type whose prefixes overlap (one starts with the other).
	for _, b := range slices.Sorted(maps.Keys(prefixes)) {
		ps := prefixes[b]
		for i := range ps {
			for j := i + 1; j < len(ps); j++ {
				if strings.HasPrefix(ps[i], ps[j]) || strings.HasPrefix(ps[j], ps[i]) {
					bad("s3Sources: bucket %q: prefixes %q and %q overlap (S3 refuses overlapping notification filters; keep the shorter)", b, ps[i], ps[j])
				}
			}
		}
	}
	if c.KMSKeyARN != "" {
		if !kmsKeyARNRE.MatchString(c.KMSKeyARN) {
			bad("s3KmsKeyArn %q: want a key ARN (arn:aws:kms:<region>:<account>:key/<id>; an alias does not work in IAM)", c.KMSKeyARN)
		}
		if len(c.Sources) == 0 {
			bad("s3KmsKeyArn is set without s3Sources (the new bucket is encrypted with S3-managed keys)")
		}
	}
	if c.MaxReceives < 1 || c.MaxReceives > 1000 {
		bad("s3MaxReceives %d: want 1 to 1000", c.MaxReceives)
	}
	if p.Mode == ModeLambda {
		if c.LambdaMemoryMB < 128 || c.LambdaMemoryMB > 10240 {
			bad("s3LambdaMemoryMb %d: want 128 to 10240", c.LambdaMemoryMB)
		}
		if c.LambdaTimeoutSeconds < 1 || c.LambdaTimeoutSeconds > 900 {
			bad("s3LambdaTimeoutSeconds %d: want 1 to 900", c.LambdaTimeoutSeconds)
		}
		// Without a batching window an SQS event source takes at most 10 messages.
		if c.BatchSize < 1 || c.BatchSize > 10 {
			bad("s3BatchSize %d: want 1 to 10", c.BatchSize)
		}
	}
}

func (p *Props) validateLambda(bad func(string, ...any)) {
	l := p.Lambda
	if l.ZipPath == "" {
		bad("lambdaZip: empty; build it with `make lambda` (dist/lambda-arm64.zip)")
	} else if fi, err := os.Stat(l.ZipPath); err != nil || fi.IsDir() {
		bad("lambdaZip %q: not a file; build it with `make lambda` or point -c lambdaZip=<path> at the zip", l.ZipPath)
	}
	between := func(key string, v, lo, hi int) {
		if v < lo || v > hi {
			bad("%s %d: want %d to %d", key, v, lo, hi)
		}
	}
	between("lambdaMemoryMb", l.MemoryMB, 128, 10240)
	between("lambdaTimeoutSeconds", l.TimeoutSeconds, 1, 900)
	between("batchSize", l.BatchSize, 1, 10000)
	between("batchingWindowSeconds", l.BatchingWindowSeconds, 0, 300)
	between("parallelizationFactor", l.ParallelizationFactor, 1, 10)
	between("retryAttempts", l.RetryAttempts, -1, 10000)
	between("finalizerMemoryMb", l.FinalizerMemoryMB, 128, 10240)
	between("finalizerTimeoutSeconds", l.FinalizerTimeout, 1, 900)
	if l.MaxRecordAgeSeconds != -1 && (l.MaxRecordAgeSeconds < 60 || l.MaxRecordAgeSeconds > 604800) {
		bad("maxRecordAgeSeconds %d: want -1 or 60 to 604800", l.MaxRecordAgeSeconds)
	}
	if l.StartingPosition != "TRIM_HORIZON" && l.StartingPosition != "LATEST" {
		bad("startingPosition %q: want TRIM_HORIZON or LATEST", l.StartingPosition)
	}
}

func (p *Props) validateConsumer(bad func(string, ...any)) {
	c := p.Consumer
	if c.Image == "" {
		df := filepath.Join(c.DockerDir, c.Dockerfile)
		if fi, err := os.Stat(df); err != nil || fi.IsDir() {
			bad("consumer image: %s not found; set -c consumerImage=<image uri> or -c consumerDockerDir/consumerDockerfile", df)
		}
	}
	if r, ok := fargateMemory[c.CPU]; !ok {
		bad("consumerCpu %d: want one of 256, 512, 1024, 2048, 4096", c.CPU)
	} else if c.MemoryMB < r[0] || c.MemoryMB > r[1] || (c.MemoryMB%1024 != 0 && !(c.CPU == 256 && c.MemoryMB == 512)) {
		bad("consumerMemoryMb %d: with %d CPU units want %d to %d in steps of 1024 (or 512 with 256 CPU)", c.MemoryMB, c.CPU, r[0], r[1])
	}
	if c.MinTasks < 1 {
		bad("consumerMinTasks %d: want at least 1", c.MinTasks)
	}
	if c.MaxTasks != 0 && c.MaxTasks < c.MinTasks {
		bad("consumerMaxTasks %d: want at least consumerMinTasks (%d)", c.MaxTasks, c.MinTasks)
	}
	if c.VPCID != "" && !vpcIDRE.MatchString(c.VPCID) {
		bad("vpcId %q: not a VPC id", c.VPCID)
	}
	if c.VPCID != "" && (p.StackProps.Env == nil || p.StackProps.Env.Account == nil || p.StackProps.Env.Region == nil) {
		bad("vpcId needs an explicit account and region (CDK_DEFAULT_ACCOUNT/CDK_DEFAULT_REGION, i.e. credentials) to look the VPC up")
	}
	if c.NatGateways < 0 || c.NatGateways > 3 {
		bad("natGateways %d: want 0 to 3", c.NatGateways)
	}
	if len(c.HealthCommand) < 2 || (c.HealthCommand[0] != "CMD" && c.HealthCommand[0] != "CMD-SHELL") {
		bad("consumerHealthCommand %q: want [\"CMD\", exe, args...] or [\"CMD-SHELL\", line]", c.HealthCommand)
	}
}

func (p *Props) validateSink(bad func(string, ...any)) {
	s := p.Sink
	if s.Kind != SinkElasticsearch && s.Kind != SinkOpenSearch {
		bad("sinkKind %q: want %q or %q", s.Kind, SinkElasticsearch, SinkOpenSearch)
	}
	if s.NewDomain != nil {
		if s.URL != "" || s.SecretARN != "" || s.DomainARN != "" {
			bad("sink=domain creates its own endpoint: drop sinkUrl, sinkSecretArn and sinkDomainArn")
		}
		if s.Kind != SinkOpenSearch {
			bad("sink=domain is Amazon OpenSearch Service: sinkKind must be %q", SinkOpenSearch)
		}
		d := s.NewDomain
		if !domainNameRE.MatchString(d.Name) {
			bad("domainName %q: 3 to 28 lowercase letters, digits and hyphens, starting with a letter", d.Name)
		}
		if !strings.HasPrefix(d.EngineVersion, "OpenSearch_") {
			bad("domainEngineVersion %q: want OpenSearch_X.Y", d.EngineVersion)
		}
		if !strings.HasSuffix(d.InstanceType, ".search") {
			bad("domainInstanceType %q: want an OpenSearch Service type such as t3.medium.search", d.InstanceType)
		}
		if d.InstanceCount < 1 || d.InstanceCount > 80 {
			bad("domainInstanceCount %d: want 1 to 80", d.InstanceCount)
		}
		if d.DedicatedMasterType != "" && !strings.HasSuffix(d.DedicatedMasterType, ".search") {
			bad("domainDedicatedMasterType %q: want an OpenSearch Service type such as m7g.large.search", d.DedicatedMasterType)
		}
		if d.VolumeGB < 10 || d.VolumeGB > 16384 {
			bad("domainVolumeGb %d: want 10 to 16384", d.VolumeGB)
		}
		return
	}
	if s.URL == "" {
		bad("sinkUrl: empty; set the endpoint of an existing cluster, or -c sink=domain for a new OpenSearch domain")
	} else if err := checkURL(s.URL); err != nil {
		bad("sinkUrl: %w", err)
	}
	if s.SecretARN != "" && !secretARNRE.MatchString(s.SecretARN) {
		bad("sinkSecretArn %q: want the ARN of a Secrets Manager secret", s.SecretARN)
	}
	if s.DomainARN != "" {
		if !domainARNRE.MatchString(s.DomainARN) {
			bad("sinkDomainArn %q: want arn:aws:es:<region>:<account>:domain/<name>", s.DomainARN)
		}
		if s.Kind != SinkOpenSearch {
			bad("sinkDomainArn (SigV4) needs sinkKind %q", SinkOpenSearch)
		}
		if s.SecretARN != "" {
			bad("sinkDomainArn (SigV4) and sinkSecretArn (basic auth) exclude each other")
		}
	}
}

// checkSetting checks v against the registry's row of the runtime setting env.
func checkSetting(env, v string) error {
	s, _ := settings.Lookup(env)
	return s.Check(v)
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%q: want an https:// URL with a host", raw)
	}
	return nil
}

// logRetentionDays are the retention periods CloudWatch Logs accepts.
var logRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
