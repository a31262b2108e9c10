package settings

// The environment variables, for the code that names one (a binding, a rule between settings, the stack's
// environment). Each is a row of All; nothing else about a setting is said here.
const (
	SinkKind               = "KINFLOW_SINK_KIND"
	SinkURL                = "KINFLOW_SINK_URL"
	SinkAPIKey             = "KINFLOW_SINK_API_KEY"
	SinkUsername           = "KINFLOW_SINK_USERNAME"
	SinkPassword           = "KINFLOW_SINK_PASSWORD"
	SinkSecretARN          = "KINFLOW_SINK_SECRET_ARN"
	SinkAWSRegion          = "KINFLOW_SINK_AWS_REGION"
	SinkAWSService         = "KINFLOW_SINK_AWS_SERVICE"
	SinkCAFile             = "KINFLOW_SINK_CA_FILE"
	SinkSetup              = "KINFLOW_SINK_SETUP"
	IndexPrefix            = "KINFLOW_INDEX_PREFIX"
	IndexCodec             = "KINFLOW_INDEX_CODEC"
	BulkMaxBytes           = "KINFLOW_BULK_MAX_BYTES"
	BulkMaxDocs            = "KINFLOW_BULK_MAX_DOCS"
	BulkMaxInFlight        = "KINFLOW_BULK_MAX_IN_FLIGHT"
	FlowFormat             = "KINFLOW_FLOW_FORMAT"
	FlowFormatOverrides    = "KINFLOW_FLOW_FORMAT_OVERRIDES"
	FormatDiscovery        = "KINFLOW_FORMAT_DISCOVERY"
	Window                 = "KINFLOW_WINDOW"
	AllowedLateness        = "KINFLOW_ALLOWED_LATENESS"
	MaxExactPeers          = "KINFLOW_MAX_EXACT_PEERS"
	MaxDecompressedBytes   = "KINFLOW_MAX_DECOMPRESSED_BYTES"
	AWSRegion              = "AWS_REGION"
	KinesisEndpoint        = "KINFLOW_KINESIS_ENDPOINT"
	DynamoDBEndpoint       = "KINFLOW_DYNAMODB_ENDPOINT"
	EC2Endpoint            = "KINFLOW_EC2_ENDPOINT"
	SecretsEndpoint        = "KINFLOW_SECRETS_ENDPOINT"
	StreamName             = "KINFLOW_STREAM_NAME"
	ApplicationName        = "KINFLOW_APPLICATION_NAME"
	LeaseTable             = "KINFLOW_LEASE_TABLE"
	WorkerID               = "KINFLOW_WORKER_ID"
	InitialPosition        = "KINFLOW_INITIAL_POSITION"
	MetricsAddr            = "KINFLOW_METRICS_ADDR"
	ShutdownTimeout        = "KINFLOW_SHUTDOWN_TIMEOUT"
	LambdaDeadlineReserve  = "KINFLOW_LAMBDA_DEADLINE_RESERVE"
	LambdaHandler          = "KINFLOW_LAMBDA_HANDLER"
	StateTable             = "KINFLOW_STATE_TABLE"
	Finalizer              = "KINFLOW_FINALIZER"
	FinalizerInterval      = "KINFLOW_FINALIZER_INTERVAL"
	FinalizerLockLease     = "KINFLOW_FINALIZER_LOCK_LEASE"
	MaxDelay               = "KINFLOW_MAX_DELAY"
	IdleAfter              = "KINFLOW_IDLE_AFTER"
	CorrectionHorizon      = "KINFLOW_CORRECTION_HORIZON"
	RetentionFlows         = "KINFLOW_RETENTION_FLOWS"
	RetentionPartials      = "KINFLOW_RETENTION_PARTIALS"
	RetentionConns         = "KINFLOW_RETENTION_CONNS"
	RetentionDeadLetters   = "KINFLOW_RETENTION_DEADLETTERS"
	WebhookURL             = "KINFLOW_WEBHOOK_URL"
	WebhookFormat          = "KINFLOW_WEBHOOK_FORMAT"
	WebhookSecret          = "KINFLOW_WEBHOOK_SECRET"
	WebhookSecretARN       = "KINFLOW_WEBHOOK_SECRET_ARN"
	WebhookTimeout         = "KINFLOW_WEBHOOK_TIMEOUT"
	WebhookAttempts        = "KINFLOW_WEBHOOK_ATTEMPTS"
	WebhookChunkIPs        = "KINFLOW_WEBHOOK_CHUNK_IPS"
	AlertsWebhookURL       = "KINFLOW_ALERTS_WEBHOOK_URL"
	AlertsWebhookSecret    = "KINFLOW_ALERTS_WEBHOOK_SECRET"
	AlertsWebhookSecretARN = "KINFLOW_ALERTS_WEBHOOK_SECRET_ARN"
	RetentionAlerts        = "KINFLOW_RETENTION_ALERTS"
	Detect                 = "KINFLOW_DETECT"
	DetectAllow            = "KINFLOW_DETECT_ALLOW"
	DetectBaselineWindows  = "KINFLOW_DETECT_BASELINE_WINDOWS"
	DetectMinBaseline      = "KINFLOW_DETECT_MIN_BASELINE_WINDOWS"
	DetectEpisodeGap       = "KINFLOW_DETECT_EPISODE_GAP"
	DetectSampleSize       = "KINFLOW_DETECT_SAMPLE_SIZE"
	DetectHorizontalPeers  = "KINFLOW_DETECT_HORIZONTAL_MIN_PEERS"
	DetectHorizontalFlows  = "KINFLOW_DETECT_HORIZONTAL_MIN_FLOWS_SENT"
	DetectHorizontalReject = "KINFLOW_DETECT_HORIZONTAL_REJECTED_PERCENT"
	DetectHorizontalPorts  = "KINFLOW_DETECT_HORIZONTAL_FEW_PORTS"
	DetectHorizontalAnswer = "KINFLOW_DETECT_HORIZONTAL_ANSWERED_PERCENT"
	DetectHorizontalAllow  = "KINFLOW_DETECT_HORIZONTAL_ALLOW"
	DetectVerticalPorts    = "KINFLOW_DETECT_VERTICAL_MIN_PORTS"
	DetectVerticalPeers    = "KINFLOW_DETECT_VERTICAL_MAX_PEERS"
	DetectVerticalAllow    = "KINFLOW_DETECT_VERTICAL_ALLOW"
	DetectRejectMin        = "KINFLOW_DETECT_REJECT_STORM_MIN_REJECTED"
	DetectRejectNewIP      = "KINFLOW_DETECT_REJECT_STORM_NEW_IP_MIN_REJECTED"
	DetectRejectZ          = "KINFLOW_DETECT_REJECT_STORM_MIN_Z"
	DetectRejectFactor     = "KINFLOW_DETECT_REJECT_STORM_MIN_FACTOR"
	DetectRejectAllow      = "KINFLOW_DETECT_REJECT_STORM_ALLOW"
	DetectEgressMin        = "KINFLOW_DETECT_EGRESS_MIN_BYTES"
	DetectEgressNewIP      = "KINFLOW_DETECT_EGRESS_NEW_IP_MIN_BYTES"
	DetectEgressZ          = "KINFLOW_DETECT_EGRESS_MIN_Z"
	DetectEgressFactor     = "KINFLOW_DETECT_EGRESS_MIN_FACTOR"
	DetectEgressAllow      = "KINFLOW_DETECT_EGRESS_ALLOW"
	SQSQueueURL            = "KINFLOW_SQS_QUEUE_URL"
	SQSEndpoint            = "KINFLOW_SQS_ENDPOINT"
	S3Endpoint             = "KINFLOW_S3_ENDPOINT"
	SQSConcurrency         = "KINFLOW_SQS_CONCURRENCY"
	SQSVisibility          = "KINFLOW_SQS_VISIBILITY_TIMEOUT"
	S3Routes               = "KINFLOW_S3_ROUTES"
	EnrichAWS              = "KINFLOW_ENRICH_AWS"
	EnrichAWSRegions       = "KINFLOW_ENRICH_AWS_REGIONS"
	EnrichAWSRoles         = "KINFLOW_ENRICH_AWS_ROLES"
	EnrichRefresh          = "KINFLOW_ENRICH_REFRESH"
	GeoIPCity              = "KINFLOW_GEOIP_CITY"
	GeoIPASN               = "KINFLOW_GEOIP_ASN"
	ThreatLists            = "KINFLOW_THREAT_LISTS"
	LogLevel               = "KINFLOW_LOG_LEVEL"
	ConsoleAddr            = "KINFLOW_CONSOLE_ADDR"
	ConsoleToken           = "KINFLOW_CONSOLE_TOKEN"
)

// Runtimes that run the pipeline read the same settings; the CDK passes some of them.
const (
	both   = Consumer | Lambda
	mapped = Consumer | Lambda | CDK
)

// defaultFlowFormat is AWS's default flow-log format (version 2); internal/config's tests hold it to
// vpcflow.DefaultFormatString.
const defaultFlowFormat = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} " +
	"${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"

// All returns every row: the runtimes' settings (in the README's order), then the CDK app's own. A new slice each
// call, so no caller can change the registry.
func All() []Setting {
	return append(runtimeSettings(), cdkSettings()...)
}

func runtimeSettings() []Setting {
	return []Setting{
		// The sink.
		{Env: SinkKind, Context: "sinkKind", Kind: String, Default: "elasticsearch", Allowed: []string{"elasticsearch", "opensearch"},
			Runtimes: mapped, OldFlags: []string{"sink"},
			Help: "the search engine written to; it decides the client and the index templates (the CDK's `sink=domain` makes it `opensearch`)"},
		{Env: SinkURL, Context: "sinkUrl", Kind: URLList, Default: "http://127.0.0.1:9200", ContextRequired: true, Runtimes: mapped,
			Help: "the cluster's URLs, comma-separated (the CDK: the https endpoint of an existing cluster, required unless `sink=domain`)"},
		{Env: SinkAPIKey, Kind: String, Secret: true, Runtimes: both, Help: "Elasticsearch API key (base64 id:key)"},
		{Env: SinkUsername, Kind: String, Runtimes: both, Help: "basic-auth user"},
		{Env: SinkPassword, Kind: String, Secret: true, Runtimes: both, Help: "basic-auth password"},
		{Env: SinkSecretARN, Context: "sinkSecretArn", Kind: String, Runtimes: mapped,
			Help: "Secrets Manager secret holding `{\"username\", \"password\"}` or `{\"api_key\"}`, read at start-up"},
		{Env: SinkAWSRegion, Kind: String, Runtimes: both,
			Help: "sign OpenSearch requests with SigV4 for this region (Amazon OpenSearch Service; the CDK sets it for `sinkDomainArn` and `sink=domain`)"},
		{Env: SinkAWSService, Kind: String, Default: "es", Allowed: []string{"es", "aoss"}, Runtimes: both,
			Help: "SigV4 service: `es` (a managed domain) or `aoss` (serverless)"},
		{Env: SinkCAFile, Kind: String, Runtimes: both, Help: "PEM file of the certificate authorities to trust"},
		{Env: SinkSetup, Kind: Bool, Default: "true", Runtimes: both, OldFlags: []string{"setup"},
			Help: "install the index templates at start-up"},
		{Env: IndexPrefix, Context: "indexPrefix", Kind: String, Default: "kinflow", Runtimes: mapped,
			Pattern: `^[a-z0-9][a-z0-9_-]{0,99}$`, Shape: "lowercase letters, digits, - and _, starting with a letter or digit, at most 100",
			Help: "index name prefix: `<prefix>-flows-YYYY.MM.DD`, `<prefix>-conns-...`, `<prefix>-deadletter`"},
		{Env: IndexCodec, Kind: String, Default: "best_compression", Allowed: []string{"best_compression", "default"}, Runtimes: both,
			Help: "how the indices setup creates compress their documents (`index.codec`): `best_compression` (zstd on Elasticsearch 8.x, DEFLATE on OpenSearch: 22% less disk per flow than `default`, for some CPU when writing and when reading whole documents) or `default` (the engine's LZ4; the setting is left out, for a cluster that refuses it); indices made before keep theirs"},
		{Env: BulkMaxBytes, Kind: Int, Default: "5242880", Range: "1024..104857600", Runtimes: both,
			Help: "bulk request size in bytes that triggers a flush (the cluster's `http.max_content_length` bounds it)"},
		{Env: BulkMaxDocs, Kind: Int, Default: "5000", Range: ">0", Runtimes: both, Help: "documents per bulk request"},
		{Env: BulkMaxInFlight, Kind: Int, Default: "4", Range: "1..256", Runtimes: both, Help: "concurrent bulk requests"},

		// What the lines mean, and the windows.
		{Env: FlowFormat, Kind: String, Default: defaultFlowFormat, Runtimes: both,
			Help: "default flow-log format: the AWS `${field} ...` string or field names"},
		{Env: FlowFormatOverrides, Kind: Map, Runtimes: both,
			Help: "formats per log group: `group=format;prefix*=format` (the CDK fills it from `logGroupFormats` and its own flow logs)"},
		{Env: FormatDiscovery, Kind: Bool, Default: "false", Runtimes: both,
			Help: "look up the formats of log groups no override matches with EC2 `DescribeFlowLogs`"},
		{Env: Window, Context: "window", Kind: Duration, Default: "10m", Range: "1s..24h", Step: "1s", Runtimes: mapped,
			Help: "connection-set window width (the CDK also wants 1m or more, dividing a day)"},
		{Env: AllowedLateness, Context: "allowedLateness", Kind: Duration, Default: "15m", Range: "0s..168h", Step: "1s", Runtimes: mapped,
			Help: "how long after a window's end its flows are on time"},
		{Env: MaxExactPeers, Kind: Int, Default: "10000", Range: "1..1048576", Runtimes: both,
			Help: "peers per IP kept exactly; beyond, a HyperLogLog estimate"},
		{Env: MaxDecompressedBytes, Kind: Int, Default: "16777216", Range: "65536..1073741824", Runtimes: both,
			Help: "cap on one record's gunzipped size"},

		// AWS and the consumer's KCL worker.
		{Env: AWSRegion, Kind: String, Default: "us-east-1", Runtimes: both, OldFlags: []string{"region"},
			Help: "AWS region (the Lambda runtime sets it)"},
		{Env: KinesisEndpoint, Kind: String, Runtimes: Consumer, Help: "Kinesis endpoint (local emulators)"},
		{Env: DynamoDBEndpoint, Kind: String, Runtimes: both, Help: "DynamoDB endpoint (local emulators)"},
		{Env: EC2Endpoint, Kind: String, Runtimes: both, Help: "EC2 endpoint for format discovery (local emulators)"},
		{Env: SecretsEndpoint, Kind: String, Runtimes: both, Help: "Secrets Manager endpoint (local emulators)"},
		{Env: StreamName, Kind: String, Runtimes: Consumer, OldFlags: []string{"stream"},
			Help: "Kinesis stream to read (this or `KINFLOW_SQS_QUEUE_URL`, or both; the CDK passes its stream)"},
		{Env: SQSQueueURL, Kind: String, Runtimes: Consumer, Pattern: `^(https?://\S+)?$`, Shape: "an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)",
			Example: "https://sqs.us-east-1.amazonaws.com/123456789012/kinflow-objects",
			Help:    "SQS queue of S3 `ObjectCreated` notifications (direct, or by SNS or EventBridge) whose objects `consumer run` reads, beside or instead of the stream"},
		{Env: SQSEndpoint, Kind: String, Runtimes: Consumer, Help: "SQS endpoint (local emulators)"},
		{Env: S3Endpoint, Kind: String, Runtimes: both, Help: "S3 endpoint (local emulators; path-style addressing)"},
		{Env: SQSConcurrency, Kind: Int, Default: "4", Range: "1..64", Runtimes: Consumer,
			Help: "objects `consumer run` reads at once from the queue (each streamed, its memory bounded by the batch of lines in flight)"},
		{Env: SQSVisibility, Kind: Duration, Default: "5m", Range: "30s..12h", Step: "1s", Runtimes: Consumer,
			Help: "how long a message being read stays invisible; extended by this much every third of it while its object is read, so a large object is never handed to a second reader"},
		{Env: S3Routes, Kind: Map, Runtimes: both, Example: "copied-logs/alb/=alb;*/nlb/=nlb",
			Help: "objects of keys AWS's layouts do not account for: `bucket/prefix=kind;*/prefix=kind` (kinds vpcflow, alb, nlb, elb); the longest prefix wins; an object of no known layout is dead-lettered (`unknown_layout`), never guessed"},
		{Env: ApplicationName, Kind: String, Default: "kinflow", Runtimes: Consumer, OldFlags: []string{"application"},
			Help: "KCL application name; names the lease table unless `KINFLOW_LEASE_TABLE` is set"},
		{Env: LeaseTable, Kind: String, DefaultText: "the application name", Runtimes: Consumer,
			Help: "DynamoDB lease table (partition key `ShardID`)"},
		{Env: WorkerID, Kind: String, DefaultText: "host name and pid", Runtimes: Consumer, Help: "this worker's id in the lease table"},
		{Env: InitialPosition, Kind: String, Default: "TRIM_HORIZON", Allowed: []string{"TRIM_HORIZON", "LATEST"}, Runtimes: Consumer,
			Help: "where a shard without a checkpoint starts"},
		{Env: MetricsAddr, Kind: String, Default: ":9090", Runtimes: Consumer, Help: "address of `/metrics`, `/healthz` and `/readyz`"},
		{Env: ShutdownTimeout, Kind: Duration, Default: "30s", Range: ">0", Runtimes: Consumer,
			Help: "bound on flushing and checkpointing at SIGTERM"},
		{Env: LambdaDeadlineReserve, Kind: Duration, Default: "5s", Range: ">0", Runtimes: Lambda,
			Help: "time kept back from an invocation's deadline to cut partials and answer"},
		{Env: LambdaHandler, Kind: String, Default: "batch", Allowed: []string{"batch", "finalizer", "objects"}, Runtimes: Lambda,
			Help: "which handler the function runs: the Kinesis batches, the scheduled finalizer, or the SQS messages of S3 notifications (`objects`)"},

		// Closing windows.
		{Env: StateTable, Kind: String, DefaultText: "consumer: `<lease table>-state`", Runtimes: both,
			Help: "DynamoDB table of shard progress, finalized windows and the finalizer lock (partition key `ShardID`); the consumer creates its default, the finalizer function needs it set"},
		{Env: Finalizer, Kind: Bool, Default: "true", Runtimes: Consumer,
			Help: "run the finalizer loop (one worker at a time holds its lock)"},
		{Env: FinalizerInterval, Kind: Duration, Default: "30s", Range: ">0", Runtimes: Consumer,
			Help: "pause between finalizer passes"},
		{Env: FinalizerLockLease, Kind: Duration, Default: "1m", Range: "3s..", Runtimes: both, OldFlags: []string{"finalizer-lease"},
			Help: "the finalizer lock's lease: a dead holder is replaced after at most this long"},
		{Env: MaxDelay, Kind: Duration, Default: "1h", Runtimes: both,
			Help: "a shard that records no progress for this long (stuck) stops holding the watermark back, and windows closed that way count as forced; at least `KINFLOW_ALLOWED_LATENESS`"},
		{Env: IdleAfter, Kind: Duration, Default: "2m", Range: ">0..20m", Runtimes: both,
			Help: "a caught-up shard without flows for this long does not hold the watermark back (a shard without progress for 20m is stale anyway)"},
		{Env: CorrectionHorizon, Kind: Duration, Default: "24h", Runtimes: both,
			Help: "how far back in event time (from the newest flow) windows are finalized and corrected for late partials; at least `KINFLOW_WINDOW` + `KINFLOW_MAX_DELAY`"},

		// Retention: lifecycle policies installed by setup (README "Retention"). 0 keeps forever.
		{Env: RetentionFlows, Kind: Duration, Default: "2160h", Range: "0s..", Step: "1s", Runtimes: both,
			Help: "age at which a daily flow index is deleted, from its date on Elasticsearch, its creation on OpenSearch: 90 days, the three months of logs a security review (PCI DSS 10.5.1) wants at hand; the flow logs' own destination is the archive; 0: never"},
		{Env: RetentionPartials, Kind: Duration, Default: "72h", Range: "0s..", Step: "1s", Runtimes: both,
			Help: "age, from its creation, at which a daily partial connection-set index is deleted: only the finalizer reads partials; at least `KINFLOW_CORRECTION_HORIZON` + 24h (an index holds a day of windows), the default leaves a day of margin for a backlog; 0: never"},
		{Env: RetentionConns, Kind: Duration, Default: "8760h", Range: "0s..", Step: "1s", Runtimes: both,
			Help: "age at which a daily final connection-set index is deleted, as for flows: 365 days, a year of baselines for a fraction of the flows' size; 0: never"},
		{Env: RetentionDeadLetters, Kind: Duration, Default: "2160h", Range: "0s..", Step: "1s", Runtimes: both,
			Help: "age (by `@timestamp`) of the dead letters the finalizer deletes from the dead-letter index (at most once an hour): 90 days, as the flows they hold lines of; 0: never"},

		{Env: RetentionAlerts, Kind: Duration, Default: "8760h", Range: "0s..", Step: "1s", Runtimes: both,
			Help: "age at which a daily alerts index is deleted, from its date on Elasticsearch: 365 days, as the connection sets the alerts are evidence from; 0: never"},

		// The webhook.
		{Env: WebhookURL, Context: "webhookUrl", Kind: URL, Runtimes: mapped,
			Help: "receiver of closed windows; `{bucket_time}` becomes the window start (Unix seconds); empty: none"},
		{Env: WebhookFormat, Kind: String, Default: "compat", Allowed: []string{"compat", "rich"}, Runtimes: both,
			Help: "body of a webhook request: `compat` (`{\"<ip>\": <distinct peers>}`) or `rich`"},
		{Env: WebhookSecret, Kind: String, Secret: true, Runtimes: both,
			Help: "HMAC-SHA256 key signing webhook bodies (`X-Kinflow-Signature`, and `webhook-signature` as Standard Webhooks do; a `whsec_` secret is the base64 of the key there)"},
		{Env: WebhookSecretARN, Context: "webhookSecretArn", Kind: String, Runtimes: mapped,
			Help: "Secrets Manager secret holding the webhook's HMAC key (the secret string, or `{\"secret\": \"...\"}`), read at start-up"},
		{Env: WebhookTimeout, Kind: Duration, Default: "10s", Range: ">0", Runtimes: both, Help: "bound on one webhook attempt"},
		{Env: WebhookAttempts, Kind: Int, Default: "8", Range: ">0", Runtimes: both,
			Help: "attempts per webhook chunk before it is dead-lettered"},
		{Env: WebhookChunkIPs, Kind: Int, Default: "5000", Range: ">0", Runtimes: both, Help: "connection sets per webhook request"},

		// The alerts webhook: each window revision's alerts, signed and retried like the webhook above, with its
		// timeout and attempts.
		{Env: AlertsWebhookURL, Context: "alertsWebhookUrl", Kind: URL, Runtimes: mapped,
			Help: "receiver of each finalized window's alerts (raised, continued, withdrawn); `{bucket_time}` becomes the window start; empty: none (alerts are still written to `<prefix>-alerts-*`)"},
		{Env: AlertsWebhookSecret, Kind: String, Secret: true, Runtimes: both,
			Help: "HMAC-SHA256 key signing the alerts webhook's bodies, as `KINFLOW_WEBHOOK_SECRET` does the webhook's"},
		{Env: AlertsWebhookSecretARN, Context: "alertsWebhookSecretArn", Kind: String, Runtimes: mapped,
			Help: "Secrets Manager secret holding the alerts webhook's HMAC key (the secret string, or `{\"secret\": \"...\"}`), read at start-up"},

		// Enrichment (README "Enrichment"): what each flow's document says of its addresses beyond the line.
		{Env: EnrichAWS, Context: "enrichAws", Kind: Bool, Default: "false", Runtimes: mapped,
			Help: "name the AWS resource of each address and interface of the user's VPCs (EC2 `DescribeNetworkInterfaces`, `DescribeTags`, `DescribeFlowLogs`), and count a connection logged by both its interfaces once (the CDK grants those three actions, in the regions read only)"},
		{Env: EnrichAWSRegions, Context: "enrichRegions", Kind: List, Runtimes: mapped, DefaultText: "the runtime's region",
			Help: "regions whose interfaces `KINFLOW_ENRICH_AWS` reads"},
		{Env: EnrichAWSRoles, Context: "enrichRoles", Kind: List, Runtimes: mapped,
			Help: "IAM roles (ARNs) of other accounts whose interfaces are read too, assumed in each region (the runtime's own account is always read; the CDK grants `sts:AssumeRole` on exactly these, and each role's trust policy must name the runtime's role)"},
		{Env: EnrichRefresh, Context: "enrichRefresh", Kind: Duration, Default: "5m", Range: "10s..24h", Runtimes: mapped,
			Help: "how often the interfaces are read again, and the GeoIP databases and threat lists checked for a new version; a lookup never waits for it"},
		{Env: GeoIPCity, Context: "geoipCity", Kind: String, Runtimes: mapped, Pattern: `^(s3://[^/]+/.+|[^s].*|s[^3].*|s3[^:].*)?$`, Shape: "a file path or s3://bucket/key",
			Example: "/opt/geoip/GeoLite2-City.mmdb",
			Help:    "MaxMind City or Country database (`.mmdb`, a path or `s3://bucket/key`): country, region and city of public addresses (the CDK grants `s3:GetObject` on exactly that object; a path must be in the consumer's image, so lambda mode takes `s3://` only)"},
		{Env: GeoIPASN, Context: "geoipAsn", Kind: String, Runtimes: mapped, Pattern: `^(s3://[^/]+/.+|[^s].*|s[^3].*|s3[^:].*)?$`, Shape: "a file path or s3://bucket/key",
			Example: "/opt/geoip/GeoLite2-ASN.mmdb",
			Help:    "MaxMind ASN database (`.mmdb`, a path or `s3://bucket/key`): the network (AS number and organization) of public addresses (in the CDK as `geoipCity`)"},
		{Env: ThreatLists, Context: "threatLists", Kind: Map, Runtimes: mapped, Example: "blocklist=/opt/lists/drop.txt;feodo=s3://intel/feodo.csv",
			Help: "threat lists of IPs and CIDRs, `name=path-or-s3://bucket/key;...` (text, one per line, or CSV with an `ip`/`indicator`/`cidr` column): an address on one marks its flows (`threat.enrichments.*`) (the CDK also takes a JSON object of name -> path or `s3://bucket/key`; each source as for `geoipCity`)"},

		// Detections (README "Detections"): the rules the finalizer runs on each window it finalizes.
		{Env: Detect, Context: "detections", Kind: Bool, Default: "true", Runtimes: mapped,
			Help: "run the detection rules on each finalized window, writing `<prefix>-alerts-*` (and posting to `KINFLOW_ALERTS_WEBHOOK_URL`)"},
		{Env: DetectAllow, Context: "detectAllow", Kind: CIDRs, Runtimes: mapped,
			Help: "IPs and CIDRs no rule alerts on (vulnerability scanners, NAT gateways, load balancers, resolvers), comma-separated; added to each rule's own list"},
		{Env: DetectBaselineWindows, Kind: Int, Default: "36", Range: "1..10000", Runtimes: both,
			Help: "windows before a window that an IP's baseline covers (36: six hours of 10-minute windows), read from the final connection sets; at least `KINFLOW_DETECT_MIN_BASELINE_WINDOWS`, and `KINFLOW_RETENTION_CONNS` must keep them"},
		{Env: DetectMinBaseline, Kind: Int, Default: "6", Range: "1..10000", Runtimes: both,
			Help: "history an IP needs before reject_storm and unusual_egress compare it with its own past; with less, their `NEW_IP` thresholds apply"},
		{Env: DetectEpisodeGap, Kind: Int, Default: "3", Range: "1..1000", Runtimes: both,
			Help: "a rule firing on an IP within this many windows of its last signal continues that alert instead of raising a new one"},
		{Env: DetectSampleSize, Kind: Int, Default: "20", Range: "0..1000", Runtimes: both,
			Help: "peers and ports an alert carries as evidence (the lowest of each)"},
		{Env: DetectHorizontalPeers, Kind: Int, Default: "100", Range: "2..", Runtimes: both,
			Help: "horizontal_scan: distinct peers an IP needs in a window"},
		{Env: DetectHorizontalFlows, Kind: Int, Default: "100", Range: "1..", Runtimes: both,
			Help: "horizontal_scan: flows it must have sent"},
		{Env: DetectHorizontalReject, Kind: Int, Default: "50", Range: "1..100", Runtimes: both,
			Help: "horizontal_scan fires when at least this percentage of the IP's flows were rejected, or ..."},
		{Env: DetectHorizontalPorts, Kind: Int, Default: "3", Range: "0..65535", Runtimes: both,
			Help: "... its flows went to at most this many service ports (below 32768) ..."},
		{Env: DetectHorizontalAnswer, Kind: Int, Default: "20", Range: "0..100", Runtimes: both,
			Help: "... and at most this percentage of the flows it sent were answered (flows received over flows sent)"},
		{Env: DetectHorizontalAllow, Kind: CIDRs, Runtimes: both, Help: "IPs and CIDRs horizontal_scan never alerts on"},
		{Env: DetectVerticalPorts, Kind: Int, Default: "100", Range: "2..32768", Runtimes: both,
			Help: "vertical_scan: distinct service ports (below 32768) an IP sent to in a window ..."},
		{Env: DetectVerticalPeers, Kind: Int, Default: "20", Range: "1..", Runtimes: both,
			Help: "... on at most this many distinct peers"},
		{Env: DetectVerticalAllow, Kind: CIDRs, Runtimes: both, Help: "IPs and CIDRs vertical_scan never alerts on"},
		{Env: DetectRejectMin, Kind: Int, Default: "100", Range: "1..", Runtimes: both,
			Help: "reject_storm: rejected flows an IP needs in a window, whatever its baseline"},
		{Env: DetectRejectNewIP, Kind: Int, Default: "500", Range: "1..", Runtimes: both,
			Help: "reject_storm: rejected flows that fire for an IP with too short a history"},
		{Env: DetectRejectZ, Kind: Int, Default: "6", Range: "0..1000", Runtimes: both,
			Help: "reject_storm: standard deviations above the IP's mean (the deviation taken as at least the square root of the mean)"},
		{Env: DetectRejectFactor, Kind: Int, Default: "3", Range: "1..1000000", Runtimes: both,
			Help: "reject_storm: times the IP's mean"},
		{Env: DetectRejectAllow, Kind: CIDRs, Runtimes: both, Help: "IPs and CIDRs reject_storm never alerts on"},
		{Env: DetectEgressMin, Kind: Int, Default: "1073741824", Range: "1..", Runtimes: both,
			Help: "unusual_egress: bytes an IP must send in a window, whatever its baseline (1 GiB)"},
		{Env: DetectEgressNewIP, Kind: Int, Default: "21474836480", Range: "1..", Runtimes: both,
			Help: "unusual_egress: bytes sent that fire for an IP with too short a history (20 GiB)"},
		{Env: DetectEgressZ, Kind: Int, Default: "6", Range: "0..1000", Runtimes: both,
			Help: "unusual_egress: standard deviations above the IP's mean"},
		{Env: DetectEgressFactor, Kind: Int, Default: "4", Range: "1..1000000", Runtimes: both,
			Help: "unusual_egress: times the IP's mean"},
		{Env: DetectEgressAllow, Kind: CIDRs, Runtimes: both, Help: "IPs and CIDRs unusual_egress never alerts on"},

		{Env: LogLevel, Kind: String, Default: "info", Allowed: []string{"debug", "info", "warn", "error"}, Runtimes: both,
			Help: "what the Lambda functions, `consumer run`, `setup` and `finalize`, and the demo (`go run ./demo`, which defaults to `warn`) log, as JSON lines on stderr"},

		// The security console (`consumer console`): read-only, loopback unless a token guards it.
		{Env: ConsoleAddr, Kind: String, Default: "127.0.0.1:8080", Runtimes: Consumer,
			Help: "address the console (`consumer console`) listens on; anything but a loopback address needs `KINFLOW_CONSOLE_TOKEN`"},
		{Env: ConsoleToken, Kind: String, Secret: true, Runtimes: Consumer,
			Help: "the console's access token: `Authorization: Bearer <token>`, or `?token=<token>` once, which sets a cookie; required unless the address is loopback"},
	}
}

// cdkSettings are the CDK app's own context keys: they shape the deployment, and the stack turns some of them
// into the runtimes' settings (the variable it sets is in the help).
func cdkSettings() []Setting {
	return []Setting{
		{Context: "stackName", Kind: String, Default: "Kinflow", Runtimes: CDK, Help: "the CloudFormation stack's name"},
		{Context: "mode", Kind: String, Default: "lambda", Allowed: []string{"lambda", "consumer"}, Runtimes: CDK,
			Help: "the runtime that reads the stream: the Lambda functions or the consumer on ECS Fargate"},
		{Context: "account", Kind: String, DefaultText: "`CDK_DEFAULT_ACCOUNT`", Runtimes: CDK, Help: "AWS account of the stack"},
		{Context: "region", Kind: String, DefaultText: "`CDK_DEFAULT_REGION`", Runtimes: CDK, Help: "AWS region of the stack"},

		{Context: "streamName", Kind: String, DefaultText: "chosen by CloudFormation", Runtimes: CDK,
			Help: "the Kinesis stream's name (the consumer gets it as `KINFLOW_STREAM_NAME`)"},
		{Context: "streamMode", Kind: String, Default: "on-demand", Allowed: []string{"on-demand", "provisioned"}, Runtimes: CDK,
			Help: "the stream's capacity mode"},
		{Context: "shardCount", Kind: Int, Default: "1", Range: "1..10000", Runtimes: CDK, Help: "shards of a provisioned stream"},
		{Context: "streamRetentionHours", Kind: Int, Default: "24", Range: "24..8760", Runtimes: CDK, Help: "how long the stream keeps records"},
		{Context: "streamEncryption", Kind: String, Default: "managed", Allowed: []string{"managed", "kms"}, Runtimes: CDK,
			Help: "the key encrypting the stream: `managed` (aws/kinesis) or `kms` (a key of the stack, rotated yearly)"},

		{Context: "logGroupNames", Kind: List, Runtimes: CDK,
			Help: "existing log groups of flow logs to subscribe (comma-separated or a JSON array)"},
		{Context: "logGroupFormats", Kind: Map, Runtimes: CDK,
			Help: "JSON object: log group -> flow-log format, for groups not in the default format (passed as `KINFLOW_FLOW_FORMAT_OVERRIDES`)"},
		{Context: "filterPattern", Kind: String, Runtimes: CDK, Help: "the subscription filters' pattern; empty forwards every event"},
		{Context: "accountSubscriptionPolicy", Kind: Bool, Default: "false", Runtimes: CDK,
			Help: "subscribe every log group of the account and region with one policy (kinflow's own logs are left out)"},
		{Context: "accountPolicyExclude", Kind: List, Runtimes: CDK, Help: "log groups the account policy leaves out (at most 40)"},
		{Context: "flowLogVpcIds", Kind: List, Runtimes: CDK, Help: "VPCs the stack creates flow logs for, into a log group of its own"},
		{Context: "flowLogFormat", Kind: String, Default: "v8", Runtimes: CDK,
			Help: "format of those flow logs: `default`, `v2` to `v8` or a custom `${field} ...` list"},
		{Context: "flowLogGroupName", Kind: String, DefaultText: "chosen by CloudFormation", Runtimes: CDK, Help: "name of their log group"},
		{Context: "flowLogRetentionDays", Kind: Int, Default: "7", Runtimes: CDK,
			Help: "retention of their log group, in days (a value CloudWatch Logs accepts)"},
		{Context: "flowLogAggregationSeconds", Kind: Int, Default: "60", Allowed: []string{"60", "600"}, Runtimes: CDK,
			Help: "the longest a flow is aggregated before it is written"},

		{Context: "lambdaZip", Kind: String, Default: "dist/lambda-arm64.zip", Runtimes: CDK,
			Help: "lambda mode: the built function (`make lambda`)"},
		{Context: "lambdaMemoryMb", Kind: Int, Default: "512", Range: "128..10240", Runtimes: CDK, Help: "lambda mode: the batch function's memory"},
		{Context: "lambdaTimeoutSeconds", Kind: Int, Default: "120", Range: "1..900", Runtimes: CDK, Help: "lambda mode: the batch function's timeout"},
		{Context: "batchSize", Kind: Int, Default: "100", Range: "1..10000", Runtimes: CDK, Help: "lambda mode: records per batch"},
		{Context: "batchingWindowSeconds", Kind: Int, Default: "5", Range: "0..300", Runtimes: CDK,
			Help: "lambda mode: how long the event source mapping gathers a batch"},
		{Context: "parallelizationFactor", Kind: Int, Default: "1", Range: "1..10", Runtimes: CDK,
			Help: "lambda mode: concurrent batches per shard"},
		{Context: "retryAttempts", Kind: Int, Default: "10", Range: "-1..10000", Runtimes: CDK,
			Help: "lambda mode: retries of a failing batch (-1: until the record expires)"},
		{Context: "maxRecordAgeSeconds", Kind: Int, Default: "21600", Runtimes: CDK,
			Help: "lambda mode: records older than this go to the failed-batches queue; -1 or 60 to 604800 (-1: until they expire)"},
		{Context: "bisectOnError", Kind: Bool, Default: "true", Runtimes: CDK, Help: "lambda mode: split a failing batch to find the bad record"},
		{Context: "startingPosition", Kind: String, Default: "TRIM_HORIZON", Allowed: []string{"TRIM_HORIZON", "LATEST"}, Runtimes: CDK,
			Help: "lambda mode: where the event source mapping starts on a new shard"},
		{Context: "finalizerMemoryMb", Kind: Int, Default: "512", Range: "128..10240", Runtimes: CDK, Help: "lambda mode: the finalizer function's memory"},
		{Context: "finalizerTimeoutSeconds", Kind: Int, Default: "300", Range: "1..900", Runtimes: CDK,
			Help: "lambda mode: the finalizer function's timeout"},

		{Context: "s3Sources", Kind: List, Runtimes: CDK,
			Help: "existing buckets (in the stack's account and region) whose `ObjectCreated` notifications under the given prefixes feed the S3 intake queue: a JSON array of `{\"bucket\", \"prefixes\": [...], \"kind\"}` (no prefixes: the whole bucket; `kind`, optional, one of vpcflow, vpcflow-parquet, alb, alb-connection, nlb, elb, routes keys outside AWS's layouts and is passed in `KINFLOW_S3_ROUTES`), or comma-separated `bucket/prefix` or `bucket/prefix=kind`; prefixes of one bucket must not overlap"},
		{Context: "s3NewBucket", Kind: Bool, Default: "false", Runtimes: CDK,
			Help: "create a bucket for AWS to write logs into (SSE-S3, versioned, TLS only, no public access, access logs into a second bucket), every object of which feeds the S3 intake"},
		{Context: "s3KmsKeyArn", Kind: String, Runtimes: CDK,
			Help: "the KMS key (key ARN) encrypting the objects of `s3Sources`: the readers may `kms:Decrypt` with it, through S3 only"},
		{Context: "s3MaxReceives", Kind: Int, Default: "5", Range: "1..1000", Runtimes: CDK,
			Help: "receives of an S3 notification before the intake queue moves it to its dead-letter queue (kept 14 days)"},
		{Context: "s3LambdaMemoryMb", Kind: Int, Default: "1024", Range: "128..10240", Runtimes: CDK,
			Help: "lambda mode: the objects function's memory"},
		{Context: "s3LambdaTimeoutSeconds", Kind: Int, Default: "300", Range: "1..900", Runtimes: CDK,
			Help: "lambda mode: the objects function's timeout; the intake queue's visibility timeout is 6 times it"},
		{Context: "s3BatchSize", Kind: Int, Default: "5", Range: "1..10", Runtimes: CDK,
			Help: "lambda mode: S3 notifications (objects) per invocation of the objects function"},

		{Context: "consumerImage", Kind: String, DefaultText: "built from `consumerDockerDir`", Runtimes: CDK,
			Help: "consumer mode: a container image URI"},
		{Context: "consumerDockerDir", Kind: String, Default: ".", Runtimes: CDK, Help: "consumer mode: the image's build context"},
		{Context: "consumerDockerfile", Kind: String, Default: "consumer/Dockerfile", Runtimes: CDK,
			Help: "consumer mode: the Dockerfile, relative to `consumerDockerDir`"},
		{Context: "consumerCpu", Kind: Int, Default: "512", Allowed: []string{"256", "512", "1024", "2048", "4096"}, Runtimes: CDK,
			Help: "consumer mode: Fargate CPU units per task"},
		{Context: "consumerMemoryMb", Kind: Int, Default: "1024", Runtimes: CDK,
			Help: "consumer mode: memory per task, a size Fargate allows with `consumerCpu`"},
		{Context: "consumerMinTasks", Kind: Int, Default: "1", Range: "1..", Runtimes: CDK, Help: "consumer mode: the fewest tasks"},
		{Context: "consumerMaxTasks", Kind: Int, Default: "0", DefaultText: "the shard count (provisioned), 4 (on-demand)", Runtimes: CDK,
			Help: "consumer mode: the most tasks (a worker holds one or more shards; more would idle); 0: the default"},
		{Context: "vpcId", Kind: String, DefaultText: "a new VPC", Runtimes: CDK,
			Help: "consumer mode: an existing VPC (looked up at synth: needs credentials)"},
		{Context: "natGateways", Kind: Int, Default: "1", Range: "0..3", Runtimes: CDK,
			Help: "consumer mode: NAT gateways of a new VPC (0: public subnets and public IPs, no inbound rules)"},
		{Context: "consumerHealthCommand", Kind: List, Default: "CMD,/kinflow,health", Runtimes: CDK,
			Help: "consumer mode: the container health check, `[\"CMD\", exe, args...]` or `[\"CMD-SHELL\", line]`"},
		{Context: "containerInsights", Kind: Bool, Default: "true", Runtimes: CDK,
			Help: "consumer mode: the cluster's Container Insights metrics (billed per metric)"},

		{Context: "sink", Kind: String, Default: "existing", Allowed: []string{"existing", "domain"}, Runtimes: CDK,
			Help: "`existing` (`sinkUrl`, with `sinkSecretArn` or `sinkDomainArn`) or `domain`: a new Amazon OpenSearch Service domain"},
		{Context: "sinkDomainArn", Kind: String, Runtimes: CDK,
			Help: "the ARN of an existing Amazon OpenSearch Service domain: requests are signed with SigV4 (sets `KINFLOW_SINK_AWS_REGION`)"},
		{Context: "domainName", Kind: String, Default: "kinflow", Runtimes: CDK, Help: "`sink=domain`: the new domain's name"},
		{Context: "domainEngineVersion", Kind: String, Default: "OpenSearch_2.19", Runtimes: CDK, Help: "`sink=domain`: its engine version"},
		{Context: "domainInstanceType", Kind: String, Default: "t3.medium.search", Runtimes: CDK, Help: "`sink=domain`: its data nodes' type"},
		{Context: "domainInstanceCount", Kind: Int, Default: "1", Range: "1..80", Runtimes: CDK, Help: "`sink=domain`: its data nodes"},
		{Context: "domainVolumeGb", Kind: Int, Default: "20", Range: "10..16384", Runtimes: CDK, Help: "`sink=domain`: gp3 storage per node"},
		{Context: "domainDedicatedMasterType", Kind: String, DefaultText: "none", Runtimes: CDK,
			Help: "`sink=domain`: three dedicated master nodes of this type"},

		{Context: "alarmTopicArn", Kind: String, Runtimes: CDK, Help: "an SNS topic notified on alarm and OK; empty: alarms without actions"},
		{Context: "iteratorAgeAlarmMinutes", Kind: Int, Default: "10", Range: "1..", Runtimes: CDK,
			Help: "alarm when the stream's oldest unread record is older"},
		{Context: "deadLetterAlarmThreshold", Kind: Int, Default: "1", Range: "1..", Runtimes: CDK, Help: "alarm at this many dead letters in 5 minutes"},
		{Context: "dashboardName", Kind: String, DefaultText: "chosen by CloudFormation", Runtimes: CDK, Help: "the CloudWatch dashboard's name"},
		{Context: "retainData", Kind: Bool, Default: "true", Runtimes: CDK,
			Help: "keep the OpenSearch domain and the flow-log group on `cdk destroy`"},
	}
}

// Lookup returns the row of an environment variable.
func Lookup(env string) (Setting, bool) {
	for _, s := range All() {
		if s.Env != "" && s.Env == env {
			return s, true
		}
	}
	return Setting{}, false
}

// ByContext returns the rows that have a CDK context key, by key.
func ByContext() map[string]Setting {
	out := map[string]Setting{}
	for _, s := range All() {
		if s.Context != "" {
			out[s.Context] = s
		}
	}
	return out
}

// ContextKeys returns every context key the CDK app reads, in the registry's order.
func ContextKeys() []string {
	var keys []string
	for _, s := range All() {
		if s.Context != "" {
			keys = append(keys, s.Context)
		}
	}
	return keys
}
