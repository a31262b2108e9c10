package kcl

import (
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kclcfg "github.com/vmware/vmware-go-kcl-v2/clientlibrary/config"

	"github.com/kinflow/kinflow/internal/config"
)

// The KCL timings. A lease lasts failoverTime unless its owner renews it, which the polling consumer does every
// leaseRenewal. A worker looks for a lease to take every shardSync (±50% jitter, the library's) and takes one at a
// time, so the shards of a dead worker are taken failoverTime after its last renewal plus about one shardSync per
// shard it held, and read at once. Each look costs a ListShards and up to two consistent reads of each lease held by
// another worker.
const (
	failoverTime     = 10 * time.Second
	leaseRenewal     = 2500 * time.Millisecond
	shardSync        = time.Second
	idleBetweenReads = time.Second // a caught-up shard's poll interval
	parentPoll       = time.Second // a child shard's look at whether its parents ended
)

// kclConfig is the library's configuration of worker workerID on cfg's stream and lease table, with kinflow's
// timings.
func kclConfig(cfg config.Config, awsCfg aws.Config, workerID string, log *slog.Logger) *kclcfg.KinesisClientLibConfiguration {
	position := kclcfg.TRIM_HORIZON
	if cfg.InitialPosition == config.Latest {
		position = kclcfg.LATEST
	}
	kc := kclcfg.NewKinesisClientLibConfigWithCredential(cfg.ApplicationName, cfg.StreamName, cfg.Region, workerID, awsCfg.Credentials).
		WithTableName(cfg.LeaseTableName()).
		WithInitialPositionInStream(position).
		WithCallProcessRecordsEvenForEmptyRecordList(true). // so an idle shard still reaches its checkpoint
		WithLogger(kclLogger{log.With("component", "kcl")})
	if cfg.KinesisEndpoint != "" {
		kc = kc.WithKinesisEndpoint(cfg.KinesisEndpoint)
	}
	if cfg.DynamoDBEndpoint != "" {
		kc = kc.WithDynamoDBEndpoint(cfg.DynamoDBEndpoint)
	}
	tuneKCL(kc)
	return kc
}

// tuneKCL sets the KCL timings kinflow wants regardless of the library's defaults.
func tuneKCL(kc *kclcfg.KinesisClientLibConfiguration) {
	kc.WithIdleTimeBetweenReadsInMillis(int(idleBetweenReads.Milliseconds())).
		WithShardSyncIntervalMillis(int(shardSync.Milliseconds())).
		WithFailoverTimeMillis(int(failoverTime.Milliseconds())).
		WithLeaseRefreshWaitTime(int(leaseRenewal.Milliseconds())).
		// Without stealing, the first worker to start keeps every lease and a second one idles.
		WithLeaseStealing(true)
	// A claim (a lease steal in progress) holds only while the lease it claims would: when the claimant dies before
	// taking the shard, the others may take it as soon as the lease ran out, not 2 minutes later (the default). The
	// owner gives a claimed lease up at its next renewal, and the claimant takes it within one shard sync.
	kc.LeaseStealingClaimTimeoutMillis = 0
	// A child shard polls its parent's lease until the parent ended (10 s by default).
	kc.ParentShardPollIntervalMillis = int(parentPoll.Milliseconds())
}
