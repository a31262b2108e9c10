package assemble

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinflow/kinflow/internal/config"
	"github.com/kinflow/kinflow/internal/finalize"
	"github.com/kinflow/kinflow/internal/state"
)

// Kinesis returns a Kinesis client on c's endpoint (KINFLOW_KINESIS_ENDPOINT, or AWS's).
func Kinesis(c config.Config, awsCfg aws.Config) *kinesis.Client {
	return kinesis.NewFromConfig(awsCfg, func(o *kinesis.Options) {
		if c.KinesisEndpoint != "" {
			o.BaseEndpoint = aws.String(c.KinesisEndpoint)
		}
	})
}

// consumerShards is the consumer's inventory of shards for the finalizer: the KCL lease table, plus every open shard
// of the stream that the lease table does not list yet (a worker that started a moment ago has not synced it), as a
// free lease. Closed shards missing from the lease table are left out: the KCL lists every shard it will read, so
// such a shard is one nobody will read (older than the consumer, or trimmed).
type consumerShards struct {
	leases  *state.LeaseTable
	kinesis *kinesis.Client
	stream  string
}

var _ finalize.Leases = (*consumerShards)(nil)

func (s *consumerShards) Leases(ctx context.Context) ([]state.Lease, error) {
	out, err := s.leases.Leases(ctx)
	if err != nil {
		return nil, err
	}
	listed := make(map[string]int, len(out))
	for i, l := range out {
		listed[l.ShardID] = i
	}
	in := &kinesis.ListShardsInput{StreamName: aws.String(s.stream)}
	for {
		page, err := s.kinesis.ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("listing the shards of %s: %w", s.stream, err)
		}
		for _, sh := range page.Shards {
			id := aws.ToString(sh.ShardId)
			var parents []string
			for _, p := range []*string{sh.ParentShardId, sh.AdjacentParentShardId} {
				if p != nil {
					parents = append(parents, *p)
				}
			}
			open := sh.SequenceNumberRange == nil || sh.SequenceNumberRange.EndingSequenceNumber == nil
			i, inTable := listed[id]
			switch {
			case inTable:
				out[i].Parents = parents // the lease table knows only ParentShardId, not a merge's second parent
			case open:
				out = append(out, state.Lease{ShardID: id, Parents: parents})
			}
		}
		if page.NextToken == nil {
			break
		}
		in = &kinesis.ListShardsInput{NextToken: page.NextToken}
	}
	slices.SortFunc(out, func(a, b state.Lease) int { return strings.Compare(a.ShardID, b.ShardID) })
	return out, nil
}
