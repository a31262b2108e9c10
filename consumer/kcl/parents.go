package kcl

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	chk "github.com/vmware/vmware-go-kcl-v2/clientlibrary/checkpoint"
)

// parentGate holds a merged shard back until its second parent is done. The KCL library starts a child only after
// its ParentShardId has checkpointed SHARD_END, but ignores AdjacentParentShardId, the other parent of a merge; the
// gate waits for that one the same way, from the processor's Initialize.
type parentGate struct {
	kinesis    *kinesis.Client
	stream     string
	ddb        *dynamodb.Client
	leaseTable string
	poll       time.Duration
	log        *slog.Logger

	mu       sync.Mutex
	adjacent map[string]string // child shard -> its adjacent parent ("" for none)
}

// wait returns once shardID's adjacent parent, if it has one, has checkpointed SHARD_END, or has no checkpoint at
// all (never processed, or expired from the stream): the same rule the library applies to the first parent.
func (g *parentGate) wait(ctx context.Context, shardID string) error {
	parent, err := g.adjacentParent(ctx, shardID)
	if err != nil || parent == "" {
		return err
	}
	for logged := false; ; {
		out, err := g.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &g.leaseTable, ConsistentRead: aws.Bool(true),
			Key: map[string]ddbtypes.AttributeValue{chk.LeaseKeyKey: &ddbtypes.AttributeValueMemberS{Value: parent}}})
		if err != nil {
			return fmt.Errorf("reading the lease of %s, the adjacent parent of %s: %w", parent, shardID, err)
		}
		cp, ok := out.Item[chk.SequenceNumberKey].(*ddbtypes.AttributeValueMemberS)
		if !ok || cp.Value == chk.ShardEnd {
			return nil
		}
		if !logged {
			g.log.Info("waiting for the adjacent parent to end", "shard", shardID, "parent", parent)
			logged = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(g.poll):
		}
	}
}

// adjacentParent looks shardID up, listing the stream's shards again when it is not known yet (a new child).
func (g *parentGate) adjacentParent(ctx context.Context, shardID string) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if p, ok := g.adjacent[shardID]; ok {
		return p, nil
	}
	g.adjacent = map[string]string{}
	in := &kinesis.ListShardsInput{StreamName: &g.stream}
	for {
		out, err := g.kinesis.ListShards(ctx, in)
		if err != nil {
			return "", fmt.Errorf("listing the shards of %s: %w", g.stream, err)
		}
		for _, s := range out.Shards {
			g.adjacent[aws.ToString(s.ShardId)] = aws.ToString(s.AdjacentParentShardId)
		}
		if out.NextToken == nil {
			break
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
	return g.adjacent[shardID], nil
}
