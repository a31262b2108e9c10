package kinflowstack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskinesis"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Stream is the encrypted Kinesis data stream the subscription filters fill and the runtime reads.
type Stream struct {
	constructs.Construct
	Stream awskinesis.Stream
	// Key is the customer-managed key, nil with EncryptionManaged (aws/kinesis).
	Key awskms.Key
}

// NewStream creates the stream; it is deleted on `cdk destroy` (it only holds data in flight).
func NewStream(scope constructs.Construct, id string, cfg StreamConfig) *Stream {
	c := constructs.NewConstruct(scope, jsii.String(id))
	s := &Stream{Construct: c}
	props := &awskinesis.StreamProps{
		RetentionPeriod: awscdk.Duration_Hours(jsii.Number(cfg.RetentionHours)),
		RemovalPolicy:   awscdk.RemovalPolicy_DESTROY,
	}
	if cfg.Name != "" {
		props.StreamName = jsii.String(cfg.Name)
	}
	if cfg.Mode == StreamProvisioned {
		props.StreamMode = awskinesis.StreamMode_PROVISIONED
		props.ShardCount = jsii.Number(cfg.ShardCount)
	} else {
		props.StreamMode = awskinesis.StreamMode_ON_DEMAND
	}
	if cfg.Encryption == EncryptionKMS {
		s.Key = awskms.NewKey(c, jsii.String("Key"), &awskms.KeyProps{
			Description:       jsii.String("kinflow: encrypts the Kinesis stream of VPC flow logs"),
			EnableKeyRotation: jsii.Bool(true),
			PendingWindow:     awscdk.Duration_Days(jsii.Number(7)),
			RemovalPolicy:     awscdk.RemovalPolicy_DESTROY,
		})
		props.Encryption = awskinesis.StreamEncryption_KMS
		props.EncryptionKey = s.Key
	} else {
		props.Encryption = awskinesis.StreamEncryption_MANAGED
	}
	s.Stream = awskinesis.NewStream(c, jsii.String("Stream"), props)
	return s
}
