// Package config is the only reader of kinflow's environment. The settings registry (internal/settings) names
// every setting once, with its flag, default, meaning and the values it takes; this package binds each row to the
// Config field it fills (bind.go). Load reads the environment, the consumer's flags override it, and Validate
// checks each setting against its row and the rules between settings, reporting every problem once, by the name
// the user set it under. A KINFLOW_ variable the runtime does not read is an error (LoadFor), and Logger is the one
// logger every runtime builds from its configuration.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/kinflow/kinflow/internal/finalize"
	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/pipeline"
	"github.com/kinflow/kinflow/internal/settings"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/transport/s3obj"
)

// Sink kinds: the values of KINFLOW_SINK_KIND.
const (
	SinkElasticsearch = "elasticsearch"
	SinkOpenSearch    = "opensearch"
)

// Lambda handlers, chosen with KINFLOW_LAMBDA_HANDLER.
const (
	LambdaBatch     = "batch"     // the Kinesis event source mapping's batches
	LambdaFinalizer = "finalizer" // the scheduled finalizer
	LambdaObjects   = "objects"   // the SQS event source mapping's messages: S3 notifications of objects to read
)

// Initial positions of a new lease (KCL): the values of KINFLOW_INITIAL_POSITION.
const (
	TrimHorizon = "TRIM_HORIZON"
	Latest      = "LATEST"
)

// Config is everything kinflow's runtimes are configured with.
type Config struct {
	// Pipeline.Prefix is the one index prefix (KINFLOW_INDEX_PREFIX): the sinks and the finalizer get it from here.
	Pipeline pipeline.Config
	Formats  vpcflow.Config
	// Discovery asks EC2 DescribeFlowLogs for the format of log groups no override matches.
	Discovery bool

	Sink SinkConfig

	// StateTable is the DynamoDB table of shard progress, window records and the finalizer lock. The consumer
	// defaults it to <lease table>-state and creates it when missing; the Lambda functions need it set.
	StateTable string
	// Finalizer configures when windows close; its aggregate fields and prefix follow Pipeline (FinalizerConfig).
	Finalizer finalize.Config
	// RunFinalizer: the consumer runs the finalizer loop (one worker at a time holds its lock).
	RunFinalizer bool
	Webhook      WebhookConfig
	// AlertsWebhook receives each window revision's alerts; its Format and ChunkIPs are unused, its timeout and
	// attempts are Webhook's.
	AlertsWebhook WebhookConfig
	// Objects configures reading S3 objects announced in an SQS queue.
	Objects ObjectsConfig
	// Enrich configures the sources of enrichment (internal/enrich).
	Enrich EnrichConfig
	// DetectAllow is allowed for every rule, besides each rule's own list in Finalizer.Detect.Rules (FinalizerConfig
	// joins them).
	DetectAllow []netip.Prefix

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
	Console           ConsoleConfig // consumer console: the web UI's address and token

	// flags: BindFlags bound a command line to this Config, so a problem names the flag beside the variable.
	flags bool
}

// ObjectsConfig configures the S3 intake: the queue of notifications (consumer; the Lambda is given its messages)
// and how objects are routed and read.
type ObjectsConfig struct {
	QueueURL    string
	SQSEndpoint string
	S3Endpoint  string
	Concurrency int
	Visibility  time.Duration
	S3          s3obj.Config // Overrides from KINFLOW_S3_ROUTES; the limits are s3obj's defaults
}

// EnrichConfig configures what flows are enriched with; nothing by default.
type EnrichConfig struct {
	AWS       bool     // the resources of the user's VPCs, from EC2
	Regions   []string // empty: the runtime's region
	Roles     []string // role ARNs of other accounts
	Refresh   time.Duration
	GeoIPCity string // path or s3://bucket/key
	GeoIPASN  string
	Threats   map[string]string // list name -> path or s3://bucket/key
}

// ConsoleConfig configures `consumer console`, the read-only web UI.
type ConsoleConfig struct {
	Addr  string // host:port to listen on
	Token string // bearer token; required unless Addr is a loopback address
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
	// Retention is how long each kind of index is kept: the lifecycle policies setup installs.
	Retention sink.Retention
	// Codec is the indices' index.codec: sink.CodecBestCompression, or sink.CodecDefault to leave it out.
	Codec string
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

// Default returns the built-in configuration: the parts' defaults, with every setting at the registry's default
// (Elasticsearch on 127.0.0.1:9200, the default flow-log format, 10-minute windows with 15 minutes of lateness).
func Default() Config {
	c := Config{
		Pipeline:  pipeline.DefaultConfig(),
		Formats:   vpcflow.DefaultConfig(),
		Sink:      SinkConfig{Bulk: sink.DefaultConfig()},
		Finalizer: finalize.DefaultConfig(),
		Objects:   ObjectsConfig{S3: s3obj.DefaultConfig()},
	}
	b := bindings()
	for _, s := range settings.All() {
		if s.Env != "" && s.Default != "" {
			// The registry's tests hold every default to its row, and config's to its binding.
			_ = b[s.Env].set(&c, s.Default)
		}
	}
	return c
}

// Load returns the defaults overridden by the environment, as lookup (os.LookupEnv in production) reports it:
// every setting of every runtime. It reports each value it cannot read at all; Validate checks the rest.
func Load(lookup func(string) (string, bool)) (Config, error) { return LoadOver(Default(), lookup) }

// LoadOver is Load with base in place of the defaults: a command with defaults of its own (the demo) starts there.
func LoadOver(base Config, lookup func(string) (string, bool)) (Config, error) {
	return load(base, 0, lookup)
}

// LoadFor is the configuration of runtime rt: the defaults overridden by the settings rt reads, as lookup reports
// them, and an error for each KINFLOW_ variable of environ (NAME=value, as os.Environ gives them) that rt does not
// read: a misspelling (with the nearest setting), a setting that no longer exists, another runtime's setting.
func LoadFor(rt settings.Runtime, lookup func(string) (string, bool), environ []string) (Config, error) {
	c, err := load(Default(), rt, lookup)
	var errs []error
	for _, p := range settings.CheckEnviron(rt, environ) {
		errs = append(errs, errors.New(p.String()))
	}
	return c, errors.Join(err, errors.Join(errs...))
}

// LoadEnv is the consumer's configuration from the process environment (LoadFor).
func LoadEnv() (Config, error) { return LoadFor(settings.Consumer, os.LookupEnv, os.Environ()) }

// load sets the settings of rt (0: all) that lookup has, reporting each value that is not of its kind.
func load(base Config, rt settings.Runtime, lookup func(string) (string, bool)) (Config, error) {
	c := base
	var errs []error
	b := bindings()
	for _, s := range settings.All() {
		if s.Env == "" || rt != 0 && !s.Runtimes.Has(rt) {
			continue
		}
		v, ok := lookup(s.Env)
		if !ok || v == "" {
			continue
		}
		if err := set(b[s.Env], s, &c, v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%s: %w", s.Env, shown(s, v), err))
		}
	}
	return c, errors.Join(errs...)
}

// set reads v into c if it is of the setting's kind; what else it must be, Validate says once.
func set(b binding, s settings.Setting, c *Config, v string) error {
	if err := s.CheckSyntax(v); err != nil {
		return err
	}
	return b.set(c, v)
}

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

// BindFlags defines on fs the flag of every setting that has one (settings.Setting.Flag), and each flag's old
// name marked deprecated; a flag given on the command line overrides the environment. Flags write through to c
// when fs is parsed, and c's problems name the flag from then on. The help shows the registry's default, never
// the value in effect: that may come from the environment, and a -h must not print it.
func BindFlags(fs *flag.FlagSet, c *Config) {
	c.flags = true
	b := bindings()
	for _, s := range settings.All() {
		name := s.Flag()
		if name == "" {
			continue
		}
		bind := func(v string) error { return set(b[s.Env], s, c, v) }
		fs.Func(name, usage(s), bind)
		for _, old := range s.OldFlags {
			fs.Func(old, "deprecated: use -"+name, bind)
		}
	}
}

// usage is a flag's help: the meaning, the kind as the value's name (the flag package shows a back-quoted word
// there), the variable and the default.
func usage(s settings.Setting) string {
	u := strings.ReplaceAll(s.Help, "`", "") + " (`" + string(s.Kind) + "`, env " + s.Env
	if c := s.Constraint(); c != "" {
		u += ": " + c
	}
	switch {
	case s.Default != "":
		u += ", default " + s.Default
	case s.DefaultText != "":
		u += ", default " + strings.ReplaceAll(s.DefaultText, "`", "")
	}
	return u + ")"
}

// Setting returns the value in effect of the setting env, as it would be written in the environment.
func (c Config) Setting(env string) (string, bool) {
	b, ok := bindings()[env]
	if !ok {
		return "", false
	}
	return b.get(&c), true
}

// WithoutEnrichment is c with no enrichment source: for what builds the pipeline's parts only to finalize (the
// finalizer reads the connection sets, and would load databases and read EC2 for nothing).
func (c Config) WithoutEnrichment() Config {
	c.Enrich = EnrichConfig{Refresh: c.Enrich.Refresh}
	return c
}

// LeaseTableName is the consumer's lease table: LeaseTable, or the application name.
func (c Config) LeaseTableName() string {
	if c.LeaseTable != "" {
		return c.LeaseTable
	}
	return c.ApplicationName
}

// shown is a value as an error may print it: secrets redacted, URLs without their passwords, quoted when a
// reader could not otherwise tell where it ends.
func shown(s settings.Setting, v string) string {
	if s.Secret {
		return sink.Redacted
	}
	v = redactURLs(v)
	if v == "" || strings.ContainsAny(v, " \t\"'") {
		return fmt.Sprintf("%q", v)
	}
	return v
}
