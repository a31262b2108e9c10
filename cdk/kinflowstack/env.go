package kinflowstack

// Environment variables the stack passes to the runtimes (lambda/ and consumer/). The names are those of
// internal/config's settings table; nothing here imports it, so this list is the contract.
const (
	EnvStreamName       = "KINFLOW_STREAM_NAME"           // Kinesis stream to read (consumer)
	EnvApplicationName  = "KINFLOW_APPLICATION_NAME"      // KCL application name (consumer)
	EnvLeaseTable       = "KINFLOW_LEASE_TABLE"           // KCL lease table, partition key ShardID (consumer)
	EnvInitialPosition  = "KINFLOW_INITIAL_POSITION"      // TRIM_HORIZON (consumer)
	EnvStateTable       = "KINFLOW_STATE_TABLE"           // shard progress, finalized windows, finalizer lock; partition key ShardID (S)
	EnvSinkKind         = "KINFLOW_SINK_KIND"             // elasticsearch | opensearch
	EnvSinkURL          = "KINFLOW_SINK_URL"              // https endpoint
	EnvSinkSecretARN    = "KINFLOW_SINK_SECRET_ARN"       // Secrets Manager secret: username/password or api_key
	EnvSinkAWSRegion    = "KINFLOW_SINK_AWS_REGION"       // sign requests with SigV4 for this region
	EnvSinkAWSService   = "KINFLOW_SINK_AWS_SERVICE"      // es (Amazon OpenSearch Service domain)
	EnvSinkSetup        = "KINFLOW_SINK_SETUP"            // true: install the index templates at start-up
	EnvWebhookURL       = "KINFLOW_WEBHOOK_URL"           // receiver of closed windows
	EnvWebhookSecretARN = "KINFLOW_WEBHOOK_SECRET_ARN"    // Secrets Manager secret holding the HMAC-SHA256 key
	EnvIndexPrefix      = "KINFLOW_INDEX_PREFIX"          // kinflow -> kinflow-flows-YYYY.MM.DD, ...
	EnvWindow           = "KINFLOW_WINDOW"                // Go duration, e.g. 10m0s
	EnvAllowedLateness  = "KINFLOW_ALLOWED_LATENESS"      // Go duration, e.g. 15m0s
	EnvFlowFormats      = "KINFLOW_FLOW_FORMAT_OVERRIDES" // group=field names;group=field names
	EnvLambdaHandler    = "KINFLOW_LAMBDA_HANDLER"        // batch | finalizer (lambda)
)

// MetricsNamespace is the CloudWatch namespace of kinflow's own metrics (the Lambda runtime writes EMF there too);
// the stack adds DeadLetters by Stack, counted from the dead_letters field of the per-batch log line.
const MetricsNamespace = "kinflow"
