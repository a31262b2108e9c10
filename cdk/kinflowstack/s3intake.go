package kinflowstack

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// S3IntakeProps configures the S3 intake.
type S3IntakeProps struct {
	Config S3Config
	// VisibilityTimeoutSeconds of the queue: at least 6 times the objects function's timeout in lambda mode (AWS's
	// guidance for an SQS event source, so that a batch still being read is not handed out again, and a throttled
	// one is retried within it); the consumer sets and extends visibility per message itself.
	VisibilityTimeoutSeconds int
	// Retain keeps the new bucket (and its access logs) on `cdk destroy`.
	Retain bool
}

// S3Intake owns the S3 path's infrastructure: the queue S3 notifies of new objects, its dead-letter queue, the
// queue policy letting S3 send from the configured buckets only, the ObjectCreated notifications on the existing
// buckets (imported by name, configured by the CDK's notifications custom resource, which leaves their other
// notifications alone) and on the new bucket, and the grants of the readers.
type S3Intake struct {
	constructs.Construct
	Queue       awssqs.Queue
	DeadLetters awssqs.Queue
	// Bucket is the new bucket, nil without s3NewBucket; AccessLogs holds its server access logs.
	Bucket, AccessLogs awss3.Bucket
	// Routes is the KINFLOW_S3_ROUTES value of the sources with a kind, nil when none has one.
	Routes *string
	cfg    S3Config
}

// queueDestination is an S3 notification destination for a queue whose policy the intake writes itself (the CDK's
// SqsDestination conditions its grant on aws:SourceArn only; a bucket name can be deleted and taken by another
// account, so the policy pins aws:SourceAccount too). The notification waits for the policy: S3 tests the
// destination when the configuration is put.
type queueDestination struct {
	queue  awssqs.IQueue
	policy constructs.IDependable
}

func (d *queueDestination) Bind(constructs.Construct, interfacesawss3.IBucketRef) *awss3.BucketNotificationDestinationConfig {
	return &awss3.BucketNotificationDestinationConfig{
		Type:         awss3.BucketNotificationDestinationType_QUEUE,
		Arn:          d.queue.QueueArn(),
		Dependencies: &[]constructs.IDependable{d.policy},
	}
}

// s3ARN is the ARN, in the stack's partition, of a bucket (its name) or of objects (bucket/key; * a wildcard).
func s3ARN(resource string) *string {
	return awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:s3:::"+resource), nil)
}

// NewS3Intake creates the intake.
func NewS3Intake(scope constructs.Construct, id string, p S3IntakeProps) *S3Intake {
	c := constructs.NewConstruct(scope, jsii.String(id))
	// Server access logs are granted by a bucket policy (logging.s3.amazonaws.com, from the new bucket of this
	// account), not by the legacy LogDeliveryWrite ACL the CDK otherwise sets on the target bucket.
	c.Node().SetContext(jsii.String("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"), true)
	s := &S3Intake{Construct: c, cfg: p.Config}
	cfg := p.Config

	// The dead-letter queue keeps a notification 14 days, longer than the queue's 4: SQS keeps a message's first
	// enqueue time when it moves it, so a shorter retention there could drop it on arrival.
	s.DeadLetters = newDeadLetterQueue(c, "DeadLetters")
	s.Queue = awssqs.NewQueue(c, jsii.String("Queue"), &awssqs.QueueProps{
		// SSE-SQS: S3 can send to it without a key policy (a customer key would need one naming s3.amazonaws.com).
		Encryption:        awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		RetentionPeriod:   awscdk.Duration_Days(jsii.Number(4)),
		VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(p.VisibilityTimeoutSeconds)),
		DeadLetterQueue:   &awssqs.DeadLetterQueue{Queue: s.DeadLetters, MaxReceiveCount: jsii.Number(cfg.MaxReceives)},
		RemovalPolicy:     awscdk.RemovalPolicy_DESTROY,
	})

	var sourceARNs []*string
	names := map[string][]string{} // bucket -> prefixes
	var routes []string
	for _, src := range cfg.Sources {
		names[src.Bucket] = append(names[src.Bucket], src.prefixes()...)
		if src.Kind != "" {
			for _, pre := range src.prefixes() {
				routes = append(routes, src.Bucket+"/"+pre+"="+src.Kind)
			}
		}
	}
	if len(routes) > 0 {
		s.Routes = jsii.String(strings.Join(routes, ";"))
	}
	buckets := slices.Sorted(maps.Keys(names))
	for _, b := range buckets {
		sourceARNs = append(sourceARNs, s3ARN(b))
	}
	if cfg.NewBucket {
		s.newBucket(p.Retain)
		sourceARNs = append(sourceARNs, s.Bucket.BucketArn())
	}

	added := s.Queue.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("S3Notifications"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("s3.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sqs:SendMessage"),
		Resources:  &[]*string{s.Queue.QueueArn()},
		Conditions: &map[string]interface{}{
			"ArnLike":      map[string]interface{}{"aws:SourceArn": sourceARNs},
			"StringEquals": map[string]interface{}{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
		},
	}))
	dest := &queueDestination{queue: s.Queue, policy: added.PolicyDependable}

	for i, b := range buckets {
		bucket := awss3.Bucket_FromBucketName(c, jsii.String(fmt.Sprintf("Existing%d", i)), jsii.String(b))
		for _, pre := range names[b] {
			if pre == "" {
				bucket.AddEventNotification(awss3.EventType_OBJECT_CREATED, dest)
			} else {
				bucket.AddEventNotification(awss3.EventType_OBJECT_CREATED, dest, &awss3.NotificationKeyFilter{Prefix: jsii.String(pre)})
			}
		}
	}
	if s.Bucket != nil {
		s.Bucket.AddEventNotification(awss3.EventType_OBJECT_CREATED, dest)
	}
	return s
}

// newBucket creates the bucket AWS delivers logs into, and the bucket of its server access logs (which cannot
// log into itself: every delivery would log another).
func (s *S3Intake) newBucket(retain bool) {
	removal := awscdk.RemovalPolicy_DESTROY
	if retain {
		removal = awscdk.RemovalPolicy_RETAIN
	}
	lifecycle := []*awss3.LifecycleRule{{
		AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(7)),
		NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(30)),
	}}
	s.AccessLogs = awss3.NewBucket(s.Construct, jsii.String("AccessLogs"), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		Versioned:         jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Expiration:                  awscdk.Duration_Days(jsii.Number(90)),
			NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(1)),
		}},
		RemovalPolicy: removal,
	})
	// SSE-S3: Elastic Load Balancing delivers access logs only to buckets encrypted with S3-managed keys.
	s.Bucket = awss3.NewBucket(s.Construct, jsii.String("Bucket"), &awss3.BucketProps{
		Encryption:             awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:             jsii.Bool(true),
		Versioned:              jsii.Bool(true),
		ObjectOwnership:        awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		ServerAccessLogsBucket: s.AccessLogs,
		ServerAccessLogsPrefix: jsii.String("intake/"),
		LifecycleRules:         &lifecycle,
		RemovalPolicy:          removal,
	})
	// Log delivery of this account only: VPC flow logs and NLB access logs (delivery.logs), ALB and classic ELB
	// access logs (logdelivery.elasticloadbalancing, the principal of Regions opened since August 2022 and of
	// the others for new setups), each under AWSLogs/<account>/ as they write.
	account := map[string]interface{}{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()}
	logs := s.Bucket.ArnForObjects(awscdk.Fn_Sub(jsii.String("AWSLogs/${AWS::AccountId}/*"), nil))
	s.Bucket.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("LogDeliveryWrite"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("delivery.logs.amazonaws.com"), nil)},
		Actions:    jsii.Strings("s3:PutObject"),
		Resources:  &[]*string{logs},
		Conditions: &map[string]interface{}{"StringEquals": map[string]interface{}{
			"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID(), "s3:x-amz-acl": "bucket-owner-full-control",
		}},
	}))
	s.Bucket.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("LogDeliveryCheck"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("delivery.logs.amazonaws.com"), nil)},
		Actions:    jsii.Strings("s3:GetBucketAcl", "s3:ListBucket"),
		Resources:  &[]*string{s.Bucket.BucketArn()},
		Conditions: &map[string]interface{}{"StringEquals": account},
	}))
	s.Bucket.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("ELBLogDelivery"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("logdelivery.elasticloadbalancing.amazonaws.com"), nil)},
		Actions:    jsii.Strings("s3:PutObject"),
		Resources:  &[]*string{logs},
	}))
}

// ObjectARNs are the IAM resources of the objects the readers may get: bucket/prefix* of every source and every
// object of the new bucket.
func (s *S3Intake) ObjectARNs() []*string {
	var out []*string
	seen := map[string]bool{}
	for _, src := range s.cfg.Sources {
		for _, pre := range src.prefixes() {
			if k := src.Bucket + "/" + pre; !seen[k] {
				seen[k] = true
				out = append(out, s3ARN(k+"*"))
			}
		}
	}
	if s.Bucket != nil {
		out = append(out, s.Bucket.ArnForObjects(jsii.String("*")))
	}
	return out
}

// GrantRead lets role read the intake's objects (their versions too: a notification names the version it
// announces) and, with s3KmsKeyArn, decrypt them through S3 only. One statement each: a Sid is unique in a policy.
func (s *S3Intake) GrantRead(role awsiam.IRole) {
	arns := s.ObjectARNs()
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ReadS3Objects"),
		Actions:   jsii.Strings("s3:GetObject", "s3:GetObjectVersion"),
		Resources: &arns,
	}))
	if s.cfg.KMSKeyARN != "" {
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("DecryptS3Objects"),
			Actions:   jsii.Strings("kms:Decrypt"),
			Resources: jsii.Strings(s.cfg.KMSKeyARN),
			Conditions: &map[string]interface{}{"StringEquals": map[string]interface{}{
				"kms:ViaService": awscdk.Fn_Sub(jsii.String("s3.${AWS::Region}.amazonaws.com"), nil),
			}},
		}))
	}
}

// consumeActions are the queue calls of the consumer's poller.
var consumeActions = []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"}

// GrantConsume lets role poll the queue as the consumer does.
func (s *S3Intake) GrantConsume(role awsiam.IRole) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ConsumeS3Notifications"),
		Actions:   jsii.Strings(consumeActions...),
		Resources: &[]*string{s.Queue.QueueArn()},
	}))
}
