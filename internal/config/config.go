// Package config is the only reader of kinflow's environment. One table (settings) names every setting once: its
// environment variable, the consumer's flag, its default and the config field it fills. Load reads the environment,
// the consumer's flags override it, and Validate reports every problem of every part at once, so a bad deployment
// fails at start-up with the whole list instead of half-working. A KINFLOW_ variable the table does not declare is
// reported too (UnknownVariables), with the nearest setting, and Logger is the one logger every runtime builds from
// its configuration.
package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kinflow/kinflow/internal/finalize"
	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/pipeline"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/sink/opensearch"
	"github.com/kinflow/kinflow/internal/webhook"
)

// Sink kinds.
const (
	SinkElasticsearch = "elasticsearch"
	SinkOpenSearch    = "opensearch"
)

// Lambda handlers, chosen with KINFLOW_LAMBDA_HANDLER.
const (
	LambdaBatch     = "batch"     // the Kinesis event source mapping's batches
	LambdaFinalizer = "finalizer" // the scheduled finalizer
)

// Initial positions of a new lease (KCL).
const (
	TrimHorizon = "TRIM_HORIZON"
	Latest      = "LATEST"
)

// Config is everything kinflow's runtimes are configured with.
type Config struct {
	Pipeline pipeline.Config
	Formats  vpcflow.Config
	// Discovery asks EC2 DescribeFlowLogs for the format of log groups no override matches.
	Discovery bool

	Sink SinkConfig

	// StateTable is the DynamoDB table of shard progress, window records and the finalizer lock. The consumer
	// defaults it to <lease table>-state and creates it when missing; the Lambda functions need it set.
	StateTable string
	// Finalizer configures when windows close; its aggregate fields follow Pipeline.Aggregate.
	Finalizer finalize.Config
	// RunFinalizer: the consumer runs the finalizer loop (one worker at a time holds its lock).
	RunFinalizer bool
	Webhook      WebhookConfig

	// AWS: region and, for local emulators, endpoints (empty: the AWS default).
	Region            string
	KinesisEndpoint   string
	DynamoDBEndpoint  string
	EC2Endpoint       string
	SecretsEndpoint   string
	StreamName        string // consumer: the Kinesis stream to read
	ApplicationName   string // consumer: KCL application; names the lease table unless LeaseTable is set
	LeaseTable        string
	WorkerID          string // consumer: this worker's id in the lease table (default: host name and pid)
	InitialPosition   string // consumer: where a shard without a checkpoint starts
	MetricsAddr       string // consumer: address of /metrics, /healthz and /readyz
	ShutdownTimeout   time.Duration
	LambdaDeadlineCut time.Duration // lambda: time kept back from the invocation deadline to cut and answer
	LambdaHandler     string        // lambda: which handler this function runs
	LogLevel          string        // debug, info, warn or error: what Logger lets through
}

// SinkConfig chooses and configures the cluster.
type SinkConfig struct {
	Kind string // SinkElasticsearch or SinkOpenSearch
	// URLs of the cluster's nodes or endpoint (comma-separated in the environment).
	URLs     []string
	APIKey   string // Elasticsearch only
	Username string
	Password string
	// SecretARN names a Secrets Manager secret holding {"username","password"} or {"api_key"}; the runtime reads it
	// at start and it fills the fields above.
	SecretARN string
	// SigV4Region, when set, signs OpenSearch requests with SigV4 for that region (Amazon OpenSearch Service);
	// SigV4Service is es (managed domains) or aoss (serverless).
	SigV4Region  string
	SigV4Service string
	CAFile       string // PEM file of the certificate authorities to trust
	Setup        bool   // install the index templates at start-up
	Bulk         sink.Config
}

// WebhookConfig configures the receiver of closed windows; an empty URL means none.
type WebhookConfig struct {
	URL       string
	Format    string
	Secret    string // HMAC-SHA256 key
	SecretARN string // Secrets Manager secret holding the key (plain text, or {"secret": "..."}); read at start
	Timeout   time.Duration
	Attempts  int
	ChunkIPs  int
}

// Default returns the local default: Elasticsearch on 127.0.0.1:9200, the default flow-log format, 10-minute
// windows with 15 minutes of allowed lateness.
func Default() Config {
	return Config{
		Pipeline: pipeline.DefaultConfig(),
		Formats:  vpcflow.DefaultConfig(),
		Sink: SinkConfig{
			Kind:         SinkElasticsearch,
			URLs:         []string{"http://127.0.0.1:9200"},
			SigV4Service: opensearch.ServiceManaged,
			Setup:        true,
			Bulk:         sink.DefaultConfig(),
		},
		Finalizer:    finalize.DefaultConfig(),
		RunFinalizer: true,
		Webhook: WebhookConfig{Format: string(webhook.FormatCompat), Timeout: webhook.DefaultConfig().Timeout,
			Attempts: webhook.DefaultConfig().MaxAttempts, ChunkIPs: webhook.DefaultConfig().ChunkIPs},
		Region:            "us-east-1",
		ApplicationName:   "kinflow",
		InitialPosition:   TrimHorizon,
		MetricsAddr:       ":9090",
		ShutdownTimeout:   30 * time.Second,
		LambdaDeadlineCut: 5 * time.Second,
		LambdaHandler:     LambdaBatch,
		LogLevel:          "info",
	}
}

// A setting is one row of the table: how one environment variable (and flag) fills the config.
type setting struct {
	env, flag, help string
	get             func(c *Config) string
	set             func(c *Config, v string) error
}

func text(env, flag, help string, p func(c *Config) *string) setting {
	return setting{env, flag, help,
		func(c *Config) string { return *p(c) },
		func(c *Config, v string) error { *p(c) = v; return nil }}
}

func duration(env, flag, help string, p func(c *Config) *time.Duration) setting {
	return setting{env, flag, help,
		func(c *Config) string { return p(c).String() },
		func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("want a duration such as 10m or 90s: %w", err)
			}
			*p(c) = d
			return nil
		}}
}

func integer(env, flag, help string, p func(c *Config) *int) setting {
	return setting{env, flag, help,
		func(c *Config) string { return strconv.Itoa(*p(c)) },
		func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("want an integer: %w", err)
			}
			*p(c) = n
			return nil
		}}
}

func boolean(env, flag, help string, p func(c *Config) *bool) setting {
	return setting{env, flag, help,
		func(c *Config) string { return strconv.FormatBool(*p(c)) },
		func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false: %w", err)
			}
			*p(c) = b
			return nil
		}}
}

// settings is the table of every setting; README.md lists the same rows for users. A setting without a flag is
// read from the environment only (secrets, and what only deployments set).
func settings() []setting {
	return []setting{
		text("KINFLOW_SINK_KIND", "sink", "elasticsearch or opensearch", func(c *Config) *string { return &c.Sink.Kind }),
		{"KINFLOW_SINK_URL", "sink-url", "cluster URLs, comma-separated",
			func(c *Config) string { return strings.Join(c.Sink.URLs, ",") },
			func(c *Config, v string) error { c.Sink.URLs = splitList(v); return nil }},
		text("KINFLOW_SINK_API_KEY", "", "Elasticsearch API key (base64 id:key)", func(c *Config) *string { return &c.Sink.APIKey }),
		text("KINFLOW_SINK_USERNAME", "", "basic-auth user", func(c *Config) *string { return &c.Sink.Username }),
		text("KINFLOW_SINK_PASSWORD", "", "basic-auth password", func(c *Config) *string { return &c.Sink.Password }),
		text("KINFLOW_SINK_SECRET_ARN", "sink-secret-arn", "Secrets Manager secret holding username/password or api_key", func(c *Config) *string { return &c.Sink.SecretARN }),
		text("KINFLOW_SINK_AWS_REGION", "sink-aws-region", "sign OpenSearch requests with SigV4 for this region", func(c *Config) *string { return &c.Sink.SigV4Region }),
		text("KINFLOW_SINK_AWS_SERVICE", "", "SigV4 service: es (managed domain) or aoss (serverless)", func(c *Config) *string { return &c.Sink.SigV4Service }),
		text("KINFLOW_SINK_CA_FILE", "sink-ca-file", "PEM file of certificate authorities to trust", func(c *Config) *string { return &c.Sink.CAFile }),
		boolean("KINFLOW_SINK_SETUP", "setup", "install the index templates at start-up", func(c *Config) *bool { return &c.Sink.Setup }),
		text("KINFLOW_INDEX_PREFIX", "index-prefix", "index name prefix", func(c *Config) *string { return &c.Pipeline.Prefix }),
		integer("KINFLOW_BULK_MAX_BYTES", "bulk-max-bytes", "bulk request size that triggers a flush", func(c *Config) *int { return &c.Sink.Bulk.FlushBytes }),
		integer("KINFLOW_BULK_MAX_DOCS", "bulk-max-docs", "documents per bulk request", func(c *Config) *int { return &c.Sink.Bulk.FlushDocs }),
		integer("KINFLOW_BULK_MAX_IN_FLIGHT", "bulk-max-in-flight", "concurrent bulk requests", func(c *Config) *int { return &c.Sink.Bulk.MaxInFlight }),
		text("KINFLOW_FLOW_FORMAT", "flow-format", "default flow-log format (${field} string or field names)", func(c *Config) *string { return &c.Formats.DefaultFormat }),
		{"KINFLOW_FLOW_FORMAT_OVERRIDES", "flow-format-overrides", "formats per log group: group=format;prefix*=format",
			func(c *Config) string { return formatOverrides(c.Formats.Overrides) },
			func(c *Config, v string) error {
				o, err := parseOverrides(v)
				c.Formats.Overrides = o
				return err
			}},
		boolean("KINFLOW_FORMAT_DISCOVERY", "format-discovery", "look up log-group formats with EC2 DescribeFlowLogs", func(c *Config) *bool { return &c.Discovery }),
		duration("KINFLOW_WINDOW", "window", "connection-set window width", func(c *Config) *time.Duration { return &c.Pipeline.Aggregate.Window }),
		duration("KINFLOW_ALLOWED_LATENESS", "allowed-lateness", "how long after a window's end its flows are on time", func(c *Config) *time.Duration { return &c.Pipeline.Aggregate.AllowedLateness }),
		integer("KINFLOW_MAX_EXACT_PEERS", "max-exact-peers", "peers per IP kept exactly; beyond, a HyperLogLog estimate", func(c *Config) *int { return &c.Pipeline.Aggregate.MaxExactPeers }),
		integer("KINFLOW_MAX_DECOMPRESSED_BYTES", "max-decompressed-bytes", "cap on one record's gunzipped size", func(c *Config) *int { return &c.Pipeline.Decode.MaxDecompressedBytes }),
		text("AWS_REGION", "region", "AWS region", func(c *Config) *string { return &c.Region }),
		text("KINFLOW_KINESIS_ENDPOINT", "kinesis-endpoint", "Kinesis endpoint (local emulators)", func(c *Config) *string { return &c.KinesisEndpoint }),
		text("KINFLOW_DYNAMODB_ENDPOINT", "dynamodb-endpoint", "DynamoDB endpoint (local emulators)", func(c *Config) *string { return &c.DynamoDBEndpoint }),
		text("KINFLOW_EC2_ENDPOINT", "ec2-endpoint", "EC2 endpoint for format discovery (local emulators)", func(c *Config) *string { return &c.EC2Endpoint }),
		text("KINFLOW_SECRETS_ENDPOINT", "", "Secrets Manager endpoint (local emulators)", func(c *Config) *string { return &c.SecretsEndpoint }),
		text("KINFLOW_STREAM_NAME", "stream", "Kinesis stream to read (consumer)", func(c *Config) *string { return &c.StreamName }),
		text("KINFLOW_APPLICATION_NAME", "application", "KCL application name (consumer)", func(c *Config) *string { return &c.ApplicationName }),
		text("KINFLOW_LEASE_TABLE", "lease-table", "DynamoDB lease table (default: the application name)", func(c *Config) *string { return &c.LeaseTable }),
		text("KINFLOW_WORKER_ID", "worker-id", "this worker's id in the lease table (default: host name and pid)", func(c *Config) *string { return &c.WorkerID }),
		text("KINFLOW_INITIAL_POSITION", "initial-position", "TRIM_HORIZON or LATEST, for shards without a checkpoint", func(c *Config) *string { return &c.InitialPosition }),
		text("KINFLOW_METRICS_ADDR", "metrics-addr", "address of /metrics, /healthz and /readyz (consumer)", func(c *Config) *string { return &c.MetricsAddr }),
		duration("KINFLOW_SHUTDOWN_TIMEOUT", "shutdown-timeout", "bound on flushing and checkpointing at SIGTERM", func(c *Config) *time.Duration { return &c.ShutdownTimeout }),
		duration("KINFLOW_LAMBDA_DEADLINE_RESERVE", "", "time kept back from a Lambda invocation's deadline to cut partials and answer", func(c *Config) *time.Duration { return &c.LambdaDeadlineCut }),
		text("KINFLOW_LAMBDA_HANDLER", "", "which handler the Lambda function runs: batch or finalizer", func(c *Config) *string { return &c.LambdaHandler }),
		text("KINFLOW_STATE_TABLE", "state-table", "DynamoDB table of shard progress, finalized windows and the finalizer lock (consumer default: <lease table>-state)", func(c *Config) *string { return &c.StateTable }),
		boolean("KINFLOW_FINALIZER", "finalizer", "consumer: run the finalizer (one worker at a time holds its lock)", func(c *Config) *bool { return &c.RunFinalizer }),
		duration("KINFLOW_FINALIZER_INTERVAL", "finalizer-interval", "pause between finalizer passes (consumer)", func(c *Config) *time.Duration { return &c.Finalizer.Interval }),
		duration("KINFLOW_FINALIZER_LOCK_LEASE", "finalizer-lease", "the finalizer lock's lease: a dead holder is replaced after at most this long", func(c *Config) *time.Duration { return &c.Finalizer.LockLease }),
		duration("KINFLOW_MAX_DELAY", "max-delay", "a shard that records no progress for this long (stuck) stops holding the watermark back; windows closed that way count as forced", func(c *Config) *time.Duration { return &c.Finalizer.MaxDelay }),
		duration("KINFLOW_IDLE_AFTER", "idle-after", "a caught-up shard without flows for this long does not hold the watermark back", func(c *Config) *time.Duration { return &c.Finalizer.IdleAfter }),
		duration("KINFLOW_CORRECTION_HORIZON", "correction-horizon", "how far back in event time (from the newest flow) windows are finalized and corrected for late partials", func(c *Config) *time.Duration { return &c.Finalizer.Horizon }),
		text("KINFLOW_WEBHOOK_URL", "webhook-url", "receiver of closed windows; {bucket_time} becomes the window start (Unix seconds)", func(c *Config) *string { return &c.Webhook.URL }),
		text("KINFLOW_WEBHOOK_FORMAT", "webhook-format", "compat ({\"<ip>\": <distinct peers>}) or rich", func(c *Config) *string { return &c.Webhook.Format }),
		text("KINFLOW_WEBHOOK_SECRET", "", "HMAC-SHA256 key signing webhook bodies (X-Kinflow-Signature)", func(c *Config) *string { return &c.Webhook.Secret }),
		text("KINFLOW_WEBHOOK_SECRET_ARN", "webhook-secret-arn", "Secrets Manager secret holding the webhook HMAC key", func(c *Config) *string { return &c.Webhook.SecretARN }),
		duration("KINFLOW_WEBHOOK_TIMEOUT", "webhook-timeout", "bound on one webhook attempt", func(c *Config) *time.Duration { return &c.Webhook.Timeout }),
		integer("KINFLOW_WEBHOOK_ATTEMPTS", "webhook-attempts", "attempts per webhook chunk before it is dead-lettered", func(c *Config) *int { return &c.Webhook.Attempts }),
		integer("KINFLOW_WEBHOOK_CHUNK_IPS", "webhook-chunk-ips", "connection sets per webhook POST", func(c *Config) *int { return &c.Webhook.ChunkIPs }),
		text("KINFLOW_LOG_LEVEL", "log-level", "debug, info, warn or error", func(c *Config) *string { return &c.LogLevel }),
	}
}

// Load returns the defaults overridden by the environment, as lookup (os.LookupEnv in production) reports it.
// It reports every malformed value at once; Validate checks the result.
func Load(lookup func(string) (string, bool)) (Config, error) { return LoadOver(Default(), lookup) }

// LoadOver is Load with base in place of the defaults: a command with defaults of its own (the demo) starts there.
func LoadOver(base Config, lookup func(string) (string, bool)) (Config, error) {
	c := base
	var errs []error
	for _, s := range settings() {
		v, ok := lookup(s.env)
		if !ok || v == "" {
			continue
		}
		if err := s.set(&c, v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", s.env, redact(s.env, v), err))
		}
	}
	return c, errors.Join(errs...)
}

// LoadEnv is Load from the process environment.
func LoadEnv() (Config, error) { return Load(os.LookupEnv) }

// Only restricts lookup to the named variables, for a command that takes just those settings from the
// environment (the demo takes only KINFLOW_LOG_LEVEL).
func Only(lookup func(string) (string, bool), names ...string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if !slices.Contains(names, name) {
			return "", false
		}
		return lookup(name)
	}
}

// BindFlags defines a flag on fs for every setting that has one; a flag given on the command line overrides the
// environment. Flags write through to c when fs is parsed; Flag errors name the flag.
func BindFlags(fs *flag.FlagSet, c *Config) {
	for _, s := range settings() {
		if s.flag == "" {
			continue
		}
		fs.Func(s.flag, fmt.Sprintf("%s (env %s, default %q)", s.help, s.env, s.get(c)), func(v string) error {
			return s.set(c, v)
		})
	}
}

// Variables returns the environment variables with their help, in table order (README.md lists them).
func Variables() [][2]string {
	var out [][2]string
	for _, s := range settings() {
		out = append(out, [2]string{s.env, s.help})
	}
	return out
}

// secretVars are never echoed back in errors.
var secretVars = []string{"KINFLOW_SINK_API_KEY", "KINFLOW_SINK_PASSWORD", "KINFLOW_WEBHOOK_SECRET"}

func redact(env, v string) string {
	if slices.Contains(secretVars, env) {
		return sink.Redacted
	}
	return v
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// parseOverrides reads "group=format;prefix*=format". Formats contain spaces and '$', never ';' or '='.
func parseOverrides(v string) ([]vpcflow.Override, error) {
	var out []vpcflow.Override
	var errs []error
	for _, part := range strings.Split(v, ";") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		match, format, ok := strings.Cut(part, "=")
		if !ok || strings.TrimSpace(match) == "" || strings.TrimSpace(format) == "" {
			errs = append(errs, fmt.Errorf("override %q: want log-group=format or prefix*=format", part))
			continue
		}
		out = append(out, vpcflow.Override{Match: strings.TrimSpace(match), Format: strings.TrimSpace(format)})
	}
	return out, errors.Join(errs...)
}

func formatOverrides(o []vpcflow.Override) string {
	parts := make([]string, len(o))
	for i, x := range o {
		parts[i] = x.Match + "=" + x.Format
	}
	return strings.Join(parts, ";")
}

// Validate reports every problem of every part at once.
func (c Config) Validate() error {
	var errs []error
	if err := c.Pipeline.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Formats.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("flow-log formats: %w", err))
	}
	switch c.Sink.Kind {
	case SinkElasticsearch:
		if c.Sink.SigV4Region != "" {
			errs = append(errs, errors.New("KINFLOW_SINK_AWS_REGION (SigV4) applies to opensearch only"))
		}
		if err := c.Elastic(nil).Validate(); err != nil {
			errs = append(errs, err)
		}
	case SinkOpenSearch:
		if c.Sink.APIKey != "" {
			errs = append(errs, errors.New("KINFLOW_SINK_API_KEY applies to elasticsearch only"))
		}
		if err := c.OpenSearch(nil, nil).Validate(); err != nil {
			errs = append(errs, err)
		}
	default:
		errs = append(errs, fmt.Errorf("KINFLOW_SINK_KIND %q: want %s or %s", c.Sink.Kind, SinkElasticsearch, SinkOpenSearch))
	}
	if c.InitialPosition != TrimHorizon && c.InitialPosition != Latest {
		errs = append(errs, fmt.Errorf("KINFLOW_INITIAL_POSITION %q: want %s or %s", c.InitialPosition, TrimHorizon, Latest))
	}
	if _, ok := logLevels[c.LogLevel]; !ok {
		errs = append(errs, fmt.Errorf("KINFLOW_LOG_LEVEL %q: want debug, info, warn or error", c.LogLevel))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("KINFLOW_SHUTDOWN_TIMEOUT %v: want a positive duration", c.ShutdownTimeout))
	}
	if c.LambdaHandler != LambdaBatch && c.LambdaHandler != LambdaFinalizer {
		errs = append(errs, fmt.Errorf("KINFLOW_LAMBDA_HANDLER %q: want %s or %s", c.LambdaHandler, LambdaBatch, LambdaFinalizer))
	}
	if err := c.FinalizerConfig().Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Webhook.URL != "" {
		if err := c.WebhookClientConfig().Validate(); err != nil {
			errs = append(errs, err)
		}
		if c.Webhook.Secret != "" && c.Webhook.SecretARN != "" {
			errs = append(errs, errors.New("KINFLOW_WEBHOOK_SECRET and KINFLOW_WEBHOOK_SECRET_ARN: set one, not both"))
		}
	}
	if c.LambdaDeadlineCut <= 0 {
		errs = append(errs, fmt.Errorf("KINFLOW_LAMBDA_DEADLINE_RESERVE %v: want a positive duration", c.LambdaDeadlineCut))
	}
	return errors.Join(errs...)
}

// LeaseTableName is the consumer's lease table: LeaseTable, or the application name.
func (c Config) LeaseTableName() string {
	if c.LeaseTable != "" {
		return c.LeaseTable
	}
	return c.ApplicationName
}

// ValidateConsumer adds the checks only the KCL consumer needs.
func (c Config) ValidateConsumer() error {
	var errs []error
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.StreamName == "" {
		errs = append(errs, errors.New("KINFLOW_STREAM_NAME (-stream) is required"))
	}
	if c.ApplicationName == "" {
		errs = append(errs, errors.New("KINFLOW_APPLICATION_NAME (-application) must not be empty"))
	}
	if c.Region == "" {
		errs = append(errs, errors.New("AWS_REGION (-region) is required"))
	}
	return errors.Join(errs...)
}
