package state_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kinflow/kinflow/internal/state"
)

// Shard processors record progress after each checkpoint; the finalizer reads all of it and computes the
// watermark. (Not run by go test, because it needs a DynamoDB endpoint; TestStore runs the same steps against
// dynalite and moto.)
func ExampleStore() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	st, err := state.New(dynamodb.NewFromConfig(cfg), "kinflow-state")
	if err != nil {
		log.Fatal(err)
	}
	if err := st.EnsureTable(ctx); err != nil {
		log.Fatal(err)
	}
	now := time.Now()
	// In each shard processor, after a checkpoint:
	for _, p := range []state.Progress{
		{ShardID: "shardId-000000000000", Watermark: 1_714_564_200, Ended: true},
		{ShardID: "shardId-000000000001", Watermark: 1_714_564_500, CaughtUp: true, LastDataAt: now.Add(-10 * time.Second)},
		{ShardID: "shardId-000000000002", Watermark: 1_714_564_700, CaughtUp: true, LastDataAt: now.Add(-time.Hour)},
	} {
		if err := st.PutProgress(ctx, p); err != nil {
			log.Fatal(err)
		}
	}
	// In the finalizer, which applies the closing rules to them (internal/finalize):
	ps, err := st.Progress(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range ps {
		fmt.Println(p.ShardID, p.Watermark, p.Ended)
	}
}
