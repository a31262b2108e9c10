package kinflowstack

import (
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// LambdaProcessorProps configures lambda mode.
type LambdaProcessorProps struct {
	Config LambdaConfig
	Stream *Stream
	// Env is the environment shared by both functions (sink, webhook, pipeline settings).
	Env map[string]*string
	// PipelineEnv is the environment of the functions that run the pipeline, batch and objects, only (the
	// enrichment sources: the finalizer enriches nothing).
	PipelineEnv map[string]*string
	// SharedRole runs both functions under one execution role. The stack sets it when the destination is a new
	// OpenSearch domain: its fine-grained access control maps exactly one IAM principal, the master user, and both
	// functions send it requests. The shared role holds the union of the two sets of grants, which adds to the
	// finalizer reading this stream (and decrypting it with the stream's key, if the stack has one) and writing the
	// batch function's log group, and to the batch function writing the finalizer's log group; every grant still
	// names its resources.
	SharedRole bool
	// Intake, when set, adds the objects function behind an SQS event source on the intake queue.
	Intake *S3Intake
	// S3 configures the objects function.
	S3 S3Config
}

// LambdaProcessor owns lambda mode: the batch function behind a Kinesis event source mapping that reports batch
// item failures and sends what it finally gives up on to an SQS queue, the finalizer function run every minute by
// EventBridge, the DynamoDB table holding the finalizer's lock and watermarks, and with the S3 intake the objects
// function behind an SQS event source that reports batch item failures.
type LambdaProcessor struct {
	constructs.Construct
	Batch, Finalizer awslambda.Function
	// BatchRole and FinalizerRole are the functions' execution roles: one role with SharedRole, else two.
	BatchRole, FinalizerRole awsiam.Role
	BatchLogs, FinalizerLogs awslogs.LogGroup
	Mapping                  awslambdaeventsources.KinesisEventSource
	DeadLetters              awssqs.Queue
	State                    awsdynamodb.Table
	Schedule                 awsevents.Rule
	// The objects function, nil without the S3 intake.
	Objects        awslambda.Function
	ObjectsRole    awsiam.Role
	ObjectsLogs    awslogs.LogGroup
	ObjectsMapping awslambdaeventsources.SqsEventSource
}

// Roles returns the distinct execution roles of the functions: one with SharedRole, else batch, finalizer and
// (with the S3 intake) objects.
func (l *LambdaProcessor) Roles() []awsiam.Role {
	out := []awsiam.Role{l.BatchRole}
	for _, r := range []awsiam.Role{l.FinalizerRole, l.ObjectsRole} {
		if r != nil && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// PipelineRoles returns the distinct execution roles of the functions that run the pipeline: batch and (with
// the S3 intake) objects; with SharedRole the one role, which the finalizer runs as too.
func (l *LambdaProcessor) PipelineRoles() []awsiam.Role {
	out := []awsiam.Role{l.BatchRole}
	if l.ObjectsRole != nil && l.ObjectsRole != l.BatchRole {
		out = append(out, l.ObjectsRole)
	}
	return out
}

// LogGroups returns the log groups of the functions.
func (l *LambdaProcessor) LogGroups() []awslogs.LogGroup {
	out := []awslogs.LogGroup{l.BatchLogs, l.FinalizerLogs}
	if l.ObjectsLogs != nil {
		out = append(out, l.ObjectsLogs)
	}
	return out
}

// newLambdaRole returns a role that Lambda may assume, with no permissions yet.
func newLambdaRole(c constructs.Construct, id, what string) awsiam.Role {
	return awsiam.NewRole(c, jsii.String(id), &awsiam.RoleProps{
		Description: jsii.String("kinflow: " + what),
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
	})
}

// grantLogs lets a role write the log groups of the functions it runs (their streams are under each group's ARN,
// which ends in :*), in one statement: a Sid is unique within a policy.
func grantLogs(role awsiam.IRole, lgs ...awslogs.LogGroup) {
	arns := make([]*string, len(lgs))
	for i, lg := range lgs {
		arns[i] = lg.LogGroupArn()
	}
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("WriteOwnLogs"),
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: &arns,
	}))
}

// stateActions are the DynamoDB calls of the finalizer lock, the watermarks and (consumer) the KCL leases.
var stateActions = []string{
	"dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
	"dynamodb:Query", "dynamodb:Scan", "dynamodb:ConditionCheckItem",
}

// grantState lets role use the tables, in one statement: a Sid is unique within a policy.
func grantState(role awsiam.IRole, tables ...awsdynamodb.Table) {
	arns := make([]*string, len(tables))
	for i, t := range tables {
		arns[i] = t.TableArn()
	}
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("UseStateTable"),
		Actions:   jsii.Strings(stateActions...),
		Resources: &arns,
	}))
}

// newDeadLetterQueue creates a queue for what a source could not deliver: 14 days, the longest SQS keeps a message,
// encrypted and reachable over TLS only.
func newDeadLetterQueue(c constructs.Construct, id string) awssqs.Queue {
	return awssqs.NewQueue(c, jsii.String(id), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
		RemovalPolicy:   awscdk.RemovalPolicy_DESTROY,
	})
}

// newStateTable creates an on-demand table keyed like the KCL lease table (ShardID), so one finalizer code path
// serves both modes.
func newStateTable(c constructs.Construct, id string) awsdynamodb.Table {
	return awsdynamodb.NewTable(c, jsii.String(id), &awsdynamodb.TableProps{
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String("ShardID"), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
		// Ended shards' progress, old window records and abandoned locks carry ExpiresAt (internal/state).
		TimeToLiveAttribute: jsii.String("ExpiresAt"),
		Encryption:          awsdynamodb.TableEncryption_AWS_MANAGED,
		RemovalPolicy:       awscdk.RemovalPolicy_DESTROY,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
	})
}

func newRuntimeLogGroup(c constructs.Construct, id string) awslogs.LogGroup {
	return awslogs.NewLogGroup(c, jsii.String(id), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_TWO_WEEKS,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
}

// NewLambdaProcessor creates lambda mode.
func NewLambdaProcessor(scope constructs.Construct, id string, p LambdaProcessorProps) *LambdaProcessor {
	c := constructs.NewConstruct(scope, jsii.String(id))
	l := &LambdaProcessor{Construct: c}
	cfg := p.Config

	l.DeadLetters = newDeadLetterQueue(c, "DeadLetters")
	l.State = newStateTable(c, "State")

	code := awslambda.Code_FromAsset(jsii.String(cfg.ZipPath), nil)
	env := func(handler string) *map[string]*string {
		m := map[string]*string{}
		for k, v := range p.Env {
			m[k] = v
		}
		if handler != "finalizer" {
			for k, v := range p.PipelineEnv {
				m[k] = v
			}
		}
		m[EnvLambdaHandler] = jsii.String(handler)
		m[EnvStateTable] = l.State.TableName()
		if handler == "objects" && p.Intake.Routes != nil {
			m[EnvS3Routes] = p.Intake.Routes
		}
		return &m
	}
	function := func(id, handler, what string, memory, timeout int, role awsiam.Role, lg awslogs.LogGroup) awslambda.Function {
		return awslambda.NewFunction(c, jsii.String(id), &awslambda.FunctionProps{
			Description:   jsii.String("kinflow: " + what),
			Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
			Architecture:  awslambda.Architecture_ARM_64(),
			Handler:       jsii.String("bootstrap"),
			Code:          code,
			MemorySize:    jsii.Number(memory),
			Timeout:       awscdk.Duration_Seconds(jsii.Number(timeout)),
			Role:          role,
			LogGroup:      lg,
			LoggingFormat: awslambda.LoggingFormat_JSON,
			Environment:   env(handler),
		})
	}

	l.BatchLogs = newRuntimeLogGroup(c, "BatchLogs")
	l.FinalizerLogs = newRuntimeLogGroup(c, "FinalizerLogs")
	if p.Intake != nil {
		l.ObjectsLogs = newRuntimeLogGroup(c, "ObjectsLogs")
	}
	if p.SharedRole {
		what := "both functions (one role: the new OpenSearch domain maps one IAM master user): the batch function " +
			"reads the stream and writes the sink, the finalizer closes windows, writes final connection sets and " +
			"calls the webhook"
		if p.Intake != nil {
			what = "the functions (one role: the new OpenSearch domain maps one IAM master user): the batch function " +
				"reads the stream, the objects function reads S3 objects, both write the sink; the finalizer closes " +
				"windows, writes final connection sets and calls the webhook"
		}
		role := newLambdaRole(c, "Role", what)
		grantLogs(role, l.LogGroups()...)
		l.BatchRole, l.FinalizerRole = role, role
		if p.Intake != nil {
			l.ObjectsRole = role
		}
	} else {
		l.BatchRole = newLambdaRole(c, "BatchRole", "the batch function reads the stream and writes the sink")
		grantLogs(l.BatchRole, l.BatchLogs)
		l.FinalizerRole = newLambdaRole(c, "FinalizerRole", "the finalizer closes windows, writes final connection sets and calls the webhook")
		grantLogs(l.FinalizerRole, l.FinalizerLogs)
		if p.Intake != nil {
			l.ObjectsRole = newLambdaRole(c, "ObjectsRole", "the objects function reads the S3 objects the intake queue announces and writes the sink")
			grantLogs(l.ObjectsRole, l.ObjectsLogs)
		}
	}
	l.Batch = function("Batch", "batch", "decodes Kinesis batches of VPC flow logs into documents and partial connection sets",
		cfg.MemoryMB, cfg.TimeoutSeconds, l.BatchRole, l.BatchLogs)
	l.Finalizer = function("Finalizer", "finalizer", "merges the partial connection sets of closed windows (every minute)",
		cfg.FinalizerMemoryMB, cfg.FinalizerTimeout, l.FinalizerRole, l.FinalizerLogs)

	roles := []awsiam.Role{l.BatchRole}
	if l.FinalizerRole != l.BatchRole {
		roles = append(roles, l.FinalizerRole)
	}
	for _, r := range roles {
		grantState(r, l.State)
		l.DeadLetters.GrantSendMessages(r)
	}
	if p.Intake != nil {
		l.addObjects(c, p, code, env("objects"))
	}

	start := awslambda.StartingPosition_TRIM_HORIZON
	if cfg.StartingPosition == "LATEST" {
		start = awslambda.StartingPosition_LATEST
	}
	maxAge := awscdk.Duration_Seconds(jsii.Number(cfg.MaxRecordAgeSeconds))
	if cfg.MaxRecordAgeSeconds < 0 {
		maxAge = nil
	}
	l.Mapping = awslambdaeventsources.NewKinesisEventSource(p.Stream.Stream, &awslambdaeventsources.KinesisEventSourceProps{
		StartingPosition:        start,
		BatchSize:               jsii.Number(cfg.BatchSize),
		MaxBatchingWindow:       awscdk.Duration_Seconds(jsii.Number(cfg.BatchingWindowSeconds)),
		ParallelizationFactor:   jsii.Number(cfg.ParallelizationFactor),
		BisectBatchOnError:      jsii.Bool(cfg.BisectOnError),
		RetryAttempts:           jsii.Number(cfg.RetryAttempts),
		MaxRecordAge:            maxAge,
		ReportBatchItemFailures: jsii.Bool(true),
		OnFailure:               awslambdaeventsources.NewSqsDlq(l.DeadLetters),
	})
	l.Batch.AddEventSource(l.Mapping)

	l.Schedule = awsevents.NewRule(c, jsii.String("FinalizerSchedule"), &awsevents.RuleProps{
		Description: jsii.String("kinflow: run the finalizer every minute"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(1))),
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(l.Finalizer, &awseventstargets.LambdaFunctionProps{
			RetryAttempts: jsii.Number(0), // the next minute's run retries
		})},
	})
	return l
}

// addObjects creates the objects function: it reads the objects the intake queue's notifications announce and
// records its progress in the state table, as the batch function does.
//
// Its event source takes S3.BatchSize notifications (5 by default) without a batching window. A message announces
// one object (S3 sends a record per message), which may be hundreds of megabytes, and the whole batch is read in
// one invocation: a small batch keeps the timeout a budget for a few objects, and an object not reached before
// the deadline is reported as a failed item (partial batch response) and counts a receive toward the dead-letter
// queue. Five still share one cold start and the sink's bulk requests between the many small files log delivery
// writes (flow logs every 5 or 10 minutes, load balancers every 5 minutes per node). No window: the files arrive
// in bursts every few minutes, Lambda adds pollers as the queue grows, and waiting to fill a batch would only
// delay them.
func (l *LambdaProcessor) addObjects(c constructs.Construct, p LambdaProcessorProps, code awslambda.Code, env *map[string]*string) {
	cfg := p.S3
	if !p.SharedRole { // a shared role has the state table's statement already
		grantState(l.ObjectsRole, l.State)
	}
	p.Intake.GrantRead(l.ObjectsRole)
	l.Objects = awslambda.NewFunction(c, jsii.String("Objects"), &awslambda.FunctionProps{
		Description:   jsii.String("kinflow: reads the S3 objects (VPC flow logs, load balancer access logs) announced in the intake queue"),
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Handler:       jsii.String("bootstrap"),
		Code:          code,
		MemorySize:    jsii.Number(cfg.LambdaMemoryMB),
		Timeout:       awscdk.Duration_Seconds(jsii.Number(cfg.LambdaTimeoutSeconds)),
		Role:          l.ObjectsRole,
		LogGroup:      l.ObjectsLogs,
		LoggingFormat: awslambda.LoggingFormat_JSON,
		Environment:   env,
	})
	// The event source grants the role ReceiveMessage, DeleteMessage, ChangeMessageVisibility, GetQueueAttributes
	// and GetQueueUrl on the queue.
	l.ObjectsMapping = awslambdaeventsources.NewSqsEventSource(p.Intake.Queue, &awslambdaeventsources.SqsEventSourceProps{
		BatchSize:               jsii.Number(cfg.BatchSize),
		ReportBatchItemFailures: jsii.Bool(true),
	})
	l.Objects.AddEventSource(l.ObjectsMapping)
}
