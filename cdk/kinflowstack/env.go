package kinflowstack

import "github.com/kinflow/kinflow/internal/settings"

// Environment variables the stack passes to the runtimes (lambda/ and consumer/): rows of the settings registry,
// named here for the constructs that set them. TestStackPassesSettings holds each to a setting the runtime it is
// passed to reads.
const (
	EnvStreamName             = settings.StreamName             // the stream (consumer)
	EnvApplicationName        = settings.ApplicationName        // the stack's name (consumer)
	EnvLeaseTable             = settings.LeaseTable             // the KCL lease table, partition key ShardID (consumer)
	EnvInitialPosition        = settings.InitialPosition        // TRIM_HORIZON (consumer)
	EnvStateTable             = settings.StateTable             // shard progress, finalized windows, finalizer lock; partition key ShardID (S)
	EnvSinkKind               = settings.SinkKind               // sinkKind
	EnvSinkURL                = settings.SinkURL                // sinkUrl, or the new domain's endpoint
	EnvSinkSecretARN          = settings.SinkSecretARN          // sinkSecretArn
	EnvSinkAWSRegion          = settings.SinkAWSRegion          // the region of sinkDomainArn or of the new domain
	EnvSinkAWSService         = settings.SinkAWSService         // es (Amazon OpenSearch Service domain)
	EnvSinkSetup              = settings.SinkSetup              // true: install the index templates at start-up
	EnvWebhookURL             = settings.WebhookURL             // webhookUrl
	EnvWebhookSecretARN       = settings.WebhookSecretARN       // webhookSecretArn
	EnvIndexPrefix            = settings.IndexPrefix            // indexPrefix
	EnvAlertsWebhookURL       = settings.AlertsWebhookURL       // alertsWebhookUrl
	EnvAlertsWebhookSecretARN = settings.AlertsWebhookSecretARN // alertsWebhookSecretArn
	EnvDetect                 = settings.Detect                 // detections: true or false
	EnvDetectAllow            = settings.DetectAllow            // detectAllow, comma-separated
	EnvWindow                 = settings.Window                 // window, as a Go duration (10m0s)
	EnvAllowedLateness        = settings.AllowedLateness        // allowedLateness, as a Go duration (15m0s)
	EnvFlowFormats            = settings.FlowFormatOverrides    // logGroupFormats and the stack's flow logs: group=field names;...
	EnvLambdaHandler          = settings.LambdaHandler          // batch | finalizer | objects (lambda)
	EnvSQSQueueURL            = settings.SQSQueueURL            // the S3 intake queue (consumer)
	EnvS3Routes               = settings.S3Routes               // s3Sources' kinds: bucket/prefix=kind;...
	EnvEnrichAWS              = settings.EnrichAWS              // enrichAws: true (pipeline runtimes)
	EnvEnrichAWSRegions       = settings.EnrichAWSRegions       // enrichRegions, comma-separated (pipeline runtimes)
	EnvEnrichAWSRoles         = settings.EnrichAWSRoles         // enrichRoles, comma-separated (pipeline runtimes)
	EnvEnrichRefresh          = settings.EnrichRefresh          // enrichRefresh, as a Go duration (pipeline runtimes)
	EnvGeoIPCity              = settings.GeoIPCity              // geoipCity (pipeline runtimes)
	EnvGeoIPASN               = settings.GeoIPASN               // geoipAsn (pipeline runtimes)
	EnvThreatLists            = settings.ThreatLists            // threatLists: name=source;... (pipeline runtimes)
)

// MetricsNamespace is the CloudWatch namespace of kinflow's own metrics (the Lambda runtime writes EMF there too);
// the stack adds DeadLetters by Stack, counted from the dead_letters field of the per-batch log line.
const MetricsNamespace = "kinflow"

// PipelineOnlyEnv are the variables the stack passes only to the runtimes that run the pipeline (the batch and
// objects functions, the consumer), not to the finalizer function, which enriches nothing.
var PipelineOnlyEnv = []string{
	EnvEnrichAWS, EnvEnrichAWSRegions, EnvEnrichAWSRoles, EnvEnrichRefresh, EnvGeoIPCity, EnvGeoIPASN, EnvThreatLists,
}
