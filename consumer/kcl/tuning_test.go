package kcl

import (
	"log/slog"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/google/go-cmp/cmp"
	kclcfg "github.com/vmware/vmware-go-kcl-v2/clientlibrary/config"

	"github.com/kinflow/kinflow/internal/config"
)

// kclPlace is where the library's configuration points the worker: from kinflow's configuration.
type kclPlace struct {
	Table, Worker             string
	Position                  kclcfg.InitialPositionInStream
	KinesisEndpoint, DynamoDB string
}

// kclTimings are the library's settings kinflow fixes, whatever its configuration.
type kclTimings struct {
	EmptyBatches                         bool
	IdleMillis, SyncMillis               int
	FailoverMillis, RenewWaitMillis      int
	Stealing                             bool
	ClaimTimeoutMillis, ParentPollMillis int
}

// The lease table, start position and endpoints come from the configuration; the timings (README, Guarantees: how
// fast a dead worker's shards are taken over) are kinflow's whatever the library's defaults are.
func TestKCLConfig(t *testing.T) {
	timings := kclTimings{EmptyBatches: true, IdleMillis: 1000, SyncMillis: 1000, FailoverMillis: 10_000,
		RenewWaitMillis: 2500, Stealing: true, ClaimTimeoutMillis: 0, ParentPollMillis: 1000}
	for _, tt := range []struct {
		name string
		set  func(*config.Config)
		want kclPlace
	}{
		{"defaults: table named after the application, from the trim horizon, AWS endpoints", func(*config.Config) {},
			kclPlace{Table: "app", Worker: "w1", Position: kclcfg.TRIM_HORIZON}},
		{"lease table, latest, local endpoints", func(c *config.Config) {
			c.LeaseTable, c.InitialPosition = "leases", config.Latest
			c.KinesisEndpoint, c.DynamoDBEndpoint = "http://127.0.0.1:4567", "http://127.0.0.1:4568"
		}, kclPlace{Table: "leases", Worker: "w1", Position: kclcfg.LATEST,
			KinesisEndpoint: "http://127.0.0.1:4567", DynamoDB: "http://127.0.0.1:4568"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.ApplicationName, cfg.StreamName, cfg.Region = "app", "stream", "us-east-1"
			tt.set(&cfg)
			awsCfg := aws.Config{Credentials: credentials.NewStaticCredentialsProvider("id", "secret", "")}
			kc := kclConfig(cfg, awsCfg, "w1", slog.New(slog.DiscardHandler))
			place := kclPlace{Table: kc.TableName, Worker: kc.WorkerID, Position: kc.InitialPositionInStream,
				KinesisEndpoint: kc.KinesisEndpoint, DynamoDB: kc.DynamoDBEndpoint}
			if diff := cmp.Diff(tt.want, place); diff != "" {
				t.Errorf("where the worker points (-want +got):\n%s", diff)
			}
			got := kclTimings{EmptyBatches: kc.CallProcessRecordsEvenForEmptyRecordList,
				IdleMillis: kc.IdleTimeBetweenReadsInMillis, SyncMillis: kc.ShardSyncIntervalMillis,
				FailoverMillis: kc.FailoverTimeMillis, RenewWaitMillis: kc.LeaseRefreshWaitTime,
				Stealing: kc.EnableLeaseStealing, ClaimTimeoutMillis: kc.LeaseStealingClaimTimeoutMillis,
				ParentPollMillis: kc.ParentShardPollIntervalMillis}
			if diff := cmp.Diff(timings, got); diff != "" {
				t.Errorf("KCL timings (-want +got):\n%s", diff)
			}
		})
	}
}
