package kinflowstack

// Environment variables the stack passes to the runtimes (lambda/ and consumer/). internal/config reads the same
// names; nothing here imports it, so this list is the contract.
const (
	EnvStreamName       = "KINFLOW_STREAM_NAME"        // Kinesis stream to read (consumer)
	EnvLeaseTable       = "KINFLOW_LEASE_TABLE"        // KCL lease table, partition key ShardID (consumer)
	EnvStateTable       = "KINFLOW_STATE_TABLE"        // finalizer lock and watermarks, partition key ShardID (S)
	EnvSinkKind         = "KINFLOW_SINK_KIND"          // elasticsearch | opensearch
	EnvSinkURL          = "KINFLOW_SINK_URL"           // https endpoint
	EnvSinkAuth         = "KINFLOW_SINK_AUTH"          // none | secret | sigv4
	EnvSinkSecretARN    = "KINFLOW_SINK_SECRET_ARN"    // Secrets Manager secret with the endpoint's credentials
	EnvSinkAWSRegion    = "KINFLOW_SINK_AWS_REGION"    // region to sign requests for (SigV4, service es)
	EnvWebhookURL       = "KINFLOW_WEBHOOK_URL"        // receiver of closed windows
	EnvWebhookSecretARN = "KINFLOW_WEBHOOK_SECRET_ARN" // Secrets Manager secret holding the HMAC-SHA256 key
	EnvIndexPrefix      = "KINFLOW_INDEX_PREFIX"       // kinflow -> kinflow-flows-YYYY.MM.DD, ...
	EnvWindow           = "KINFLOW_WINDOW"             // Go duration, e.g. 10m0s
	EnvAllowedLateness  = "KINFLOW_ALLOWED_LATENESS"   // Go duration, e.g. 15m0s
	EnvDeadLetterQueue  = "KINFLOW_DEADLETTER_QUEUE_URL"
	EnvFlowLogFormats   = "KINFLOW_FLOW_LOG_FORMATS"  // JSON object: log group name -> `${field} ...` format
	EnvLambdaHandler    = "KINFLOW_LAMBDA_HANDLER"    // batch | finalizer (lambda)
	EnvLogFormat        = "KINFLOW_LOG_FORMAT"        // json
	EnvMetricsNamespace = "KINFLOW_METRICS_NAMESPACE" // namespace of the metrics the runtime logs (EMF) and alarms use
)

// MetricsNamespace is the CloudWatch namespace of kinflow's own metrics (the dead-letter count from its logs).
const MetricsNamespace = "Kinflow"
