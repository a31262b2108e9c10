package testenv

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// A NotifiedBucket is a bucket of moto's S3 whose ObjectCreated notifications moto delivers to an SQS queue, as
// S3 does: what the S3 intake reads.
type NotifiedBucket struct {
	S3       *s3.Client
	SQS      *sqs.Client
	Bucket   string
	QueueURL string
	QueueARN string
}

// NewNotifiedBucket makes a bucket and a queue named after tb on moto, and the bucket's notification into the
// queue; the queue is deleted when tb ends.
func NewNotifiedBucket(tb testing.TB) *NotifiedBucket {
	tb.Helper()
	cfg := AWSConfig(URL(tb, Moto))
	ctx := Context(tb, time.Minute)
	n := &NotifiedBucket{Bucket: UniqueName(tb, "kfs3")}
	n.S3 = s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle, o.DisableLogOutputChecksumValidationSkipped = true, true })
	n.SQS = sqs.NewFromConfig(cfg)
	if _, err := n.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(n.Bucket)}); err != nil {
		tb.Fatal(err)
	}
	q, err := n.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(n.Bucket)})
	if err != nil {
		tb.Fatal(err)
	}
	n.QueueURL = aws.ToString(q.QueueUrl)
	tb.Cleanup(func() { n.SQS.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: q.QueueUrl}) })
	attrs, err := n.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		tb.Fatal(err)
	}
	n.QueueARN = attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	_, err = n.S3.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket: aws.String(n.Bucket),
		NotificationConfiguration: &s3types.NotificationConfiguration{QueueConfigurations: []s3types.QueueConfiguration{{
			QueueArn: aws.String(n.QueueARN), Events: []s3types.Event{"s3:ObjectCreated:*"},
		}}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// Put writes an object; its notification follows in the queue.
func (n *NotifiedBucket) Put(tb testing.TB, key string, body []byte) {
	tb.Helper()
	if _, err := n.S3.PutObject(Context(tb, time.Minute), &s3.PutObjectInput{Bucket: aws.String(n.Bucket), Key: aws.String(key),
		Body: bytesReader(body)}); err != nil {
		tb.Fatal(err)
	}
}

// Messages receives up to max messages from the queue (one long poll), hidden for visibility.
func (n *NotifiedBucket) Messages(tb testing.TB, max int32, visibility time.Duration) []sqstypes.Message {
	tb.Helper()
	out, err := n.SQS.ReceiveMessage(Context(tb, time.Minute), &sqs.ReceiveMessageInput{QueueUrl: aws.String(n.QueueURL),
		MaxNumberOfMessages: max, WaitTimeSeconds: 1, VisibilityTimeout: int32(visibility / time.Second)})
	if err != nil {
		tb.Fatal(err)
	}
	return out.Messages
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
