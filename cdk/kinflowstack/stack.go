package kinflowstack

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// KinflowStack is the whole pipeline: stream, sources, the runtime of the chosen mode, destination and monitoring.
type KinflowStack struct {
	awscdk.Stack
	Props         Props
	Stream        *Stream
	FlowLogs      *FlowLogs // nil without flowLogVpcIds
	Subscriptions *Subscriptions
	Lambda        *LambdaProcessor // lambda mode
	Consumer      *ConsumerService // consumer mode
	S3Intake      *S3Intake        // nil without s3Sources and s3NewBucket
	Destination   *Destination
	Monitoring    *Monitoring
}

// NewKinflowStack validates props and builds the stack.
func NewKinflowStack(scope constructs.Construct, id string, props Props) (*KinflowStack, error) {
	if err := props.Validate(); err != nil {
		return nil, fmt.Errorf("kinflow stack %s: %w", id, err)
	}
	sp := props.StackProps
	if sp.Description == nil {
		sp.Description = jsii.String(fmt.Sprintf("kinflow (%s mode): VPC flow logs -> Kinesis -> search index and connection sets", props.Mode))
	}
	st := awscdk.NewStack(scope, jsii.String(id), &sp)
	k := &KinflowStack{Stack: st, Props: props}
	awscdk.Tags_Of(st).Add(jsii.String("app"), jsii.String("kinflow"), nil)

	k.Stream = NewStream(st, "Stream", props.Stream)

	formats := map[string]string{}
	for g, f := range props.Sources.LogGroupFormats {
		formats[g], _ = ResolveLogGroupFormat(f) // checked by Validate
	}
	groups := make([]*string, 0, len(props.Sources.LogGroupNames)+1)
	for _, g := range props.Sources.LogGroupNames {
		groups = append(groups, jsii.String(g))
	}
	if len(props.Sources.FlowLogVPCIDs) > 0 {
		format, _ := ResolveFlowLogFormat(props.Sources.FlowLogFormat)
		k.FlowLogs = NewFlowLogs(st, "FlowLogs", FlowLogsProps{
			VPCIDs:             props.Sources.FlowLogVPCIDs,
			Format:             format,
			LogGroupName:       props.Sources.FlowLogGroupName,
			RetentionDays:      props.Sources.FlowLogRetentionDays,
			AggregationSeconds: props.Sources.FlowLogAggregationSeconds,
			Retain:             props.RetainData,
		})
		groups = append(groups, k.FlowLogs.LogGroup.LogGroupName())
		formats[*k.FlowLogs.LogGroup.LogGroupName()] = format // a token: CloudFormation joins in the name
	}

	env := map[string]*string{
		EnvIndexPrefix:     jsii.String(props.Pipeline.IndexPrefix),
		EnvWindow:          jsii.String(props.Pipeline.Window.String()),
		EnvAllowedLateness: jsii.String(props.Pipeline.AllowedLateness.String()),
		EnvSinkSetup:       jsii.String("true"),
	}
	if len(formats) > 0 {
		env[EnvFlowFormats] = formatOverrides(formats)
	}

	if props.S3.Enabled() {
		// Lambda: AWS's guidance for an SQS event source, six times the function's timeout. The consumer asks
		// for its own visibility on every receive (KINFLOW_SQS_VISIBILITY_TIMEOUT, 5m) and extends it.
		visibility := consumerQueueVisibilitySeconds
		if props.Mode == ModeLambda {
			visibility = 6 * props.S3.LambdaTimeoutSeconds
		}
		k.S3Intake = NewS3Intake(st, "S3Intake", S3IntakeProps{
			Config: props.S3, VisibilityTimeoutSeconds: visibility, Retain: props.RetainData,
		})
	}

	var writers []awsiam.IRole
	var addEnv func(k string, v *string)
	var ownLogs []*string
	switch props.Mode {
	case ModeLambda:
		// A new domain maps one IAM principal in fine-grained access control (its master user), and both functions
		// send it requests: they run under one role then.
		k.Lambda = NewLambdaProcessor(st, "Lambda", LambdaProcessorProps{
			Config: props.Lambda, Stream: k.Stream, Env: env, PipelineEnv: props.Enrich.Env(),
			SharedRole: props.Sink.NewDomain != nil, Intake: k.S3Intake, S3: props.S3,
		})
		for _, r := range k.Lambda.Roles() {
			writers = append(writers, r)
		}
		addEnv = func(name string, v *string) {
			k.Lambda.Batch.AddEnvironment(jsii.String(name), v, nil)
			k.Lambda.Finalizer.AddEnvironment(jsii.String(name), v, nil)
			if k.Lambda.Objects != nil {
				k.Lambda.Objects.AddEnvironment(jsii.String(name), v, nil)
			}
		}
		for _, lg := range k.Lambda.LogGroups() {
			ownLogs = append(ownLogs, lg.LogGroupName())
		}
	case ModeConsumer:
		maxTasks := props.Consumer.MaxTasks
		if maxTasks == 0 {
			maxTasks = 4
			if props.Stream.Mode == StreamProvisioned {
				maxTasks = props.Stream.ShardCount
			}
		}
		maxTasks = max(maxTasks, props.Consumer.MinTasks)
		// The consumer runs the pipeline and the finalizer in one process: it gets the enrichment too.
		consumerEnv := props.Enrich.Env()
		maps.Copy(consumerEnv, env)
		k.Consumer = NewConsumerService(st, "Consumer", ConsumerServiceProps{
			Config: props.Consumer, Stream: k.Stream, MaxTasks: maxTasks, Env: consumerEnv, Intake: k.S3Intake,
		})
		writers = []awsiam.IRole{k.Consumer.TaskRole}
		container := k.Consumer.TaskDef.DefaultContainer()
		addEnv = func(name string, v *string) { container.AddEnvironment(jsii.String(name), v) }
		ownLogs = []*string{k.Consumer.Logs.LogGroupName()}
	}

	// The enrichment sources: read by the runtimes that run the pipeline, nothing granted without one.
	for _, r := range k.pipelineRoles() {
		grantEnrich(r, props.Enrich)
	}

	var err error
	k.Destination, err = NewDestination(st, "Destination", DestinationProps{
		Sink: props.Sink, Webhook: props.Webhook, AlertsWebhook: props.AlertsWebhook, Detections: props.Detections,
		Retain: props.RetainData, Writers: writers,
	})
	if err != nil {
		return nil, fmt.Errorf("kinflow stack %s: %w", id, err)
	}
	for _, name := range slices.Sorted(maps.Keys(k.Destination.Env)) {
		addEnv(name, k.Destination.Env[name])
	}

	exclude := ownLogs
	for _, g := range props.Sources.AccountPolicyExclude {
		exclude = append(exclude, jsii.String(g))
	}
	k.Subscriptions = NewSubscriptions(st, "Subscriptions", SubscriptionsProps{
		Stream: k.Stream, LogGroups: groups, FilterPattern: props.Sources.FilterPattern,
		AccountPolicy: props.Sources.AccountPolicy, Exclude: exclude,
	})

	k.Monitoring = NewMonitoring(st, "Monitoring", MonitoringProps{
		Config: props.Alarms, Stream: k.Stream, Lambda: k.Lambda, Consumer: k.Consumer, Intake: k.S3Intake,
	})

	out := func(id, desc string, v *string) {
		awscdk.NewCfnOutput(st, jsii.String(id), &awscdk.CfnOutputProps{Value: v, Description: jsii.String(desc)})
	}
	out("StreamName", "Kinesis stream the subscription filters fill", k.Stream.Stream.StreamName())
	out("StreamArn", "ARN of the stream", k.Stream.Stream.StreamArn())
	out("Dashboard", "CloudWatch dashboard", k.Monitoring.Dashboard.DashboardName())
	out("SinkUrl", "where documents are written", k.Destination.Env[EnvSinkURL])
	if k.Lambda != nil {
		out("FailedBatchesQueue", "SQS queue of batches the event source mapping gave up on", k.Lambda.DeadLetters.QueueUrl())
		out("StateTable", "DynamoDB table of the finalizer lock and watermarks", k.Lambda.State.TableName())
	}
	if k.Consumer != nil {
		out("LeaseTable", "DynamoDB lease table of the consumer", k.Consumer.Leases.TableName())
		out("StateTable", "DynamoDB table of shard progress, finalized windows and the finalizer lock", k.Consumer.State.TableName())
		out("Service", "ECS service running the consumer", k.Consumer.Service.ServiceName())
	}
	if i := k.S3Intake; i != nil {
		out("S3IntakeQueue", "SQS queue of the S3 notifications of new objects", i.Queue.QueueUrl())
		out("S3IntakeDeadLetters", "SQS queue of the notifications whose objects could not be read", i.DeadLetters.QueueUrl())
		if i.Bucket != nil {
			out("S3IntakeBucket", "bucket for AWS to deliver flow logs and load balancer access logs into", i.Bucket.BucketName())
		}
	}
	if k.FlowLogs != nil {
		out("FlowLogGroup", "log group of the VPC flow logs created by the stack", k.FlowLogs.LogGroup.LogGroupName())
	}

	applyNagSuppressions(k)
	return k, nil
}

// pipelineRoles are the roles of the runtimes that run the pipeline (and enrich): the batch and objects
// functions' (one role when shared), or the consumer's task role.
func (k *KinflowStack) pipelineRoles() []awsiam.IRole {
	if k.Lambda != nil {
		var out []awsiam.IRole
		for _, r := range k.Lambda.PipelineRoles() {
			out = append(out, r)
		}
		return out
	}
	return []awsiam.IRole{k.Consumer.TaskRole}
}

// consumerQueueVisibilitySeconds is the intake queue's visibility timeout in consumer mode: the consumer's default.
const consumerQueueVisibilitySeconds = 300

// formatOverrides writes group=format;group=format with each format as bare field names: the runtime accepts both
// forms, and "${field}" inside a joined string would read as a CloudFormation substitution.
func formatOverrides(formats map[string]string) *string {
	parts := make([]string, 0, len(formats))
	for _, g := range slices.Sorted(maps.Keys(formats)) {
		f := strings.NewReplacer("${", "", "}", "").Replace(formats[g])
		parts = append(parts, g+"="+f)
	}
	return jsii.String(strings.Join(parts, ";"))
}
