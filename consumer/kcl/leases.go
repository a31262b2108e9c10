package kcl

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	chk "github.com/vmware/vmware-go-kcl-v2/clientlibrary/checkpoint"
	par "github.com/vmware/vmware-go-kcl-v2/clientlibrary/partition"
)

// errLeaseLost: a checkpoint found the shard's lease held by another worker, or by none.
var errLeaseLost = errors.New("the shard lease is not this worker's any more")

// leaseTable is the library's DynamoDB lease table (chk.DynamoCheckpoint), corrected where the library, v1.0.0,
// gets lease changes wrong:
//   - A shard consumer whose lease renewal fails (the lease was stolen for balance, ran out, or DynamoDB failed)
//     ends without Shutdown. GetLease is that renewal: when it fails for a shard that has a processor here, the
//     processor stops at once.
//   - Every shard consumer, however it ends, releases its lease with RemoveLeaseOwner: the processor stops and its
//     gauges go even when Shutdown was never called.
//   - The library writes a checkpoint as a whole item, whoever owns the lease by then: a late checkpoint of the old
//     owner would take the lease back from the new one, or drop a claim. Here a checkpoint only sets the sequence
//     number, on condition that this worker owns the lease and nobody else claimed it (the owner gives a claimed
//     lease up at its next renewal anyway).
//   - The library places a claim (a lease steal) at every shard sync until the first claimed shard is handed over,
//     so a worker takes more than its share and the others take some back. Here a worker has one claim at a time.
//   - A lease without a checkpoint reads as no lease at all, so a child shard does not wait for such a parent
//     (see FetchCheckpoint).
//   - Rebalancing while a shard has no owner (or no checkpoint yet) fails at every shard sync and is logged as an
//     error; here it is skipped quietly, as the library intends.
type leaseTable struct {
	chk.Checkpointer
	ctx      context.Context // bounds the conditional checkpoints; ends at shutdown
	ddb      *dynamodb.Client
	table    string
	worker   string
	leases   *processorFactory
	claimTTL time.Duration // how long a claim may wait for its shard before this worker claims another

	mu        sync.Mutex
	claimed   string // the shard this worker claimed and has not taken yet
	claimedAt time.Time
}

var _ chk.Checkpointer = (*leaseTable)(nil)

func (l *leaseTable) GetLease(shard *par.ShardStatus, owner string) error {
	if err := l.Checkpointer.GetLease(shard, owner); err != nil {
		if !l.leases.lost(shard.ID, err) && err.Error() == chk.ErrShardClaimed {
			// Not a renewal, and another worker claimed the shard: the lease is moving to it, which the library
			// would log as an error.
			return chk.ErrLeaseNotAcquired{}
		}
		return err
	}
	l.mu.Lock()
	if l.claimed == shard.ID {
		l.claimed = ""
	}
	l.mu.Unlock()
	return nil
}

func (l *leaseTable) CheckpointSequence(shard *par.ShardStatus) error {
	ctx, cancel := context.WithTimeout(l.ctx, 10*time.Second)
	defer cancel()
	_, err := l.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           &l.table,
		Key:                 map[string]ddbtypes.AttributeValue{chk.LeaseKeyKey: &ddbtypes.AttributeValueMemberS{Value: shard.ID}},
		UpdateExpression:    aws.String("SET #checkpoint = :checkpoint"),
		ConditionExpression: aws.String("#owner = :me AND (attribute_not_exists(#claim) OR #claim = :me)"),
		ExpressionAttributeNames: map[string]string{"#checkpoint": chk.SequenceNumberKey, "#owner": chk.LeaseOwnerKey,
			"#claim": chk.ClaimRequestKey},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":checkpoint": &ddbtypes.AttributeValueMemberS{Value: shard.GetCheckpoint()},
			":me":         &ddbtypes.AttributeValueMemberS{Value: l.worker},
		},
	})
	if _, ok := errors.AsType[*ddbtypes.ConditionalCheckFailedException](err); ok {
		return fmt.Errorf("checkpointing %s: %w", shard.ID, errLeaseLost)
	}
	if err != nil {
		return fmt.Errorf("checkpointing %s: %w", shard.ID, err)
	}
	return nil
}

// FetchCheckpoint is the library's, but for a lease without a checkpoint yet, which the library reports as no
// checkpoint at all (ErrSequenceIDNotFound): its wait for a parent shard takes that for a parent gone from the stream,
// and starts the child while the parent is still being read. Here such a lease has an empty checkpoint (and its
// owner is known, for balancing); only a shard without a lease item is ErrSequenceIDNotFound.
func (l *leaseTable) FetchCheckpoint(shard *par.ShardStatus) error {
	err := l.Checkpointer.FetchCheckpoint(shard)
	if !errors.Is(err, chk.ErrSequenceIDNotFound) {
		return err
	}
	ctx, cancel := context.WithTimeout(l.ctx, 10*time.Second)
	defer cancel()
	out, err := l.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &l.table, ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{chk.LeaseKeyKey: &ddbtypes.AttributeValueMemberS{Value: shard.ID}}})
	if err != nil {
		return fmt.Errorf("reading the lease of %s: %w", shard.ID, err)
	}
	if out.Item == nil {
		return chk.ErrSequenceIDNotFound
	}
	owner, _ := out.Item[chk.LeaseOwnerKey].(*ddbtypes.AttributeValueMemberS)
	timeout, _ := out.Item[chk.LeaseTimeoutKey].(*ddbtypes.AttributeValueMemberS)
	shard.SetCheckpoint("")
	if owner != nil {
		shard.SetLeaseOwner(owner.Value)
	} else {
		shard.SetLeaseOwner("")
	}
	if timeout != nil {
		if t, err := time.Parse(time.RFC3339Nano, timeout.Value); err == nil {
			shard.SetLeaseTimeout(t)
		}
	}
	return nil
}

func (l *leaseTable) RemoveLeaseOwner(shardID string) error {
	l.leases.ended(shardID) // the processor stops before the lease is free
	return l.Checkpointer.RemoveLeaseOwner(shardID)
}

func (l *leaseTable) ClaimShard(shard *par.ShardStatus, claimant string) error {
	l.mu.Lock()
	pending := l.claimed != "" && time.Since(l.claimedAt) < l.claimTTL
	l.mu.Unlock()
	if pending {
		return nil
	}
	if err := l.Checkpointer.ClaimShard(shard, claimant); err != nil {
		return err
	}
	l.mu.Lock()
	l.claimed, l.claimedAt = shard.ID, time.Now()
	l.mu.Unlock()
	return nil
}

func (l *leaseTable) ListActiveWorkers(shards map[string]*par.ShardStatus) (map[string][]*par.ShardStatus, error) {
	workers, err := l.Checkpointer.ListActiveWorkers(shards)
	if errors.Is(err, chk.ErrShardNotAssigned) {
		return nil, nil // no rebalancing for now (an empty map balances nothing)
	}
	return workers, err
}
