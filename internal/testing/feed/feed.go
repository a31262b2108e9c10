// Package feed stages kinflow's input the way AWS does: a Kinesis stream, a CloudWatch Logs group with one log
// stream per network interface, a subscription filter from the group into the stream, and flow-log lines put as
// log events. The demo and the end-to-end tests use it against moto; nothing in the processing path imports it.
package feed

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwltypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinflow/kinflow/internal/testing/flowgen"
)

// PutLogEvents limits (CloudWatch Logs quotas): 10,000 events and 1,048,576 bytes per call, counting 26 bytes of
// overhead per event.
const (
	maxEventsPerPut = 10_000
	maxBytesPerPut  = 1_048_576
	eventOverhead   = 26
)

// Pipeline names the resources of one staged input.
type Pipeline struct {
	Stream    string // Kinesis stream name
	Shards    int32
	LogGroup  string
	Filter    string // subscription filter name
	StreamARN string // set by Create
}

// Clients are the AWS clients the feed needs.
type Clients struct {
	Kinesis *kinesis.Client
	Logs    *cloudwatchlogs.Client
}

// NewClients builds the clients from one AWS configuration (for local use, one with the emulator's BaseEndpoint).
func NewClients(cfg aws.Config) Clients {
	return Clients{Kinesis: kinesis.NewFromConfig(cfg), Logs: cloudwatchlogs.NewFromConfig(cfg)}
}

// Create makes the stream, waits for it to be active, and subscribes the log group to it. Resources that already
// exist are reused, so a second demo run feeds the same pipeline.
func (c Clients) Create(ctx context.Context, p *Pipeline) error {
	_, err := c.Kinesis.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &p.Stream, ShardCount: &p.Shards})
	if err != nil && !alreadyExists(err) {
		return fmt.Errorf("creating stream %s: %w", p.Stream, err)
	}
	waiter := kinesis.NewStreamExistsWaiter(c.Kinesis, func(o *kinesis.StreamExistsWaiterOptions) { o.MinDelay = 200 * time.Millisecond })
	desc, err := waiter.WaitForOutput(ctx, &kinesis.DescribeStreamInput{StreamName: &p.Stream}, time.Minute)
	if err != nil {
		return fmt.Errorf("waiting for stream %s: %w", p.Stream, err)
	}
	p.StreamARN = aws.ToString(desc.StreamDescription.StreamARN)

	_, err = c.Logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: &p.LogGroup})
	if err != nil && !alreadyExists(err) {
		return fmt.Errorf("creating log group %s: %w", p.LogGroup, err)
	}
	_, err = c.Logs.PutSubscriptionFilter(ctx, &cloudwatchlogs.PutSubscriptionFilterInput{
		LogGroupName:   &p.LogGroup,
		FilterName:     &p.Filter,
		FilterPattern:  aws.String(""),
		DestinationArn: &p.StreamARN,
		// CloudWatch Logs assumes this role to write into the stream; the emulator does not check it.
		RoleArn: aws.String("arn:aws:iam::123456789012:role/kinflow-cwl-to-kinesis"),
	})
	if err != nil {
		return fmt.Errorf("subscribing %s to %s: %w", p.LogGroup, p.Stream, err)
	}
	return nil
}

// Put writes the batches as log events, each batch into its log stream (created on first use), in as few
// PutLogEvents calls as the quotas allow. It returns the number of events put.
func (c Clients) Put(ctx context.Context, logGroup string, batches []flowgen.Batch) (int, error) {
	created := map[string]bool{}
	put := 0
	for _, b := range batches {
		if !created[b.LogStream] {
			_, err := c.Logs.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: &logGroup, LogStreamName: &b.LogStream})
			if err != nil && !alreadyExists(err) {
				return put, fmt.Errorf("creating log stream %s: %w", b.LogStream, err)
			}
			created[b.LogStream] = true
		}
		// CloudWatch Logs requires the events of one call in timestamp order.
		events := slices.Clone(b.Events)
		slices.SortStableFunc(events, func(x, y flowgen.Event) int { return int(x.Timestamp - y.Timestamp) })
		for len(events) > 0 {
			n, size := 0, 0
			for n < len(events) && n < maxEventsPerPut && size+len(events[n].Message)+eventOverhead <= maxBytesPerPut {
				size += len(events[n].Message) + eventOverhead
				n++
			}
			in := make([]cwltypes.InputLogEvent, n)
			for i, e := range events[:n] {
				in[i] = cwltypes.InputLogEvent{Message: aws.String(e.Message), Timestamp: aws.Int64(e.Timestamp)}
			}
			if _, err := c.Logs.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{
				LogGroupName: &logGroup, LogStreamName: &b.LogStream, LogEvents: in,
			}); err != nil {
				return put, fmt.Errorf("putting %d events into %s/%s: %w", n, logGroup, b.LogStream, err)
			}
			put += n
			events = events[n:]
		}
	}
	return put, nil
}

func alreadyExists(err error) bool {
	var kinInUse interface{ ErrorCode() string }
	if errors.As(err, &kinInUse) {
		switch kinInUse.ErrorCode() {
		case "ResourceInUseException", "ResourceAlreadyExistsException":
			return true
		}
	}
	return false
}
