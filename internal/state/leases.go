package state

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Lease is what the KCL lease table says of one shard: the consumer's inventory of shards. The finalizer needs it
// because progress rows only exist for shards that have reported: a shard the KCL knows but nobody has read yet
// (a second shard taken a few seconds after the first, a child waiting for its parents) must hold the watermark
// back too, and so must a shard whose worker died, whose last progress row looks caught up but is not.
type Lease struct {
	ShardID string
	Owner   string    // worker id holding it; "" when free
	Timeout time.Time // the lease is held until then; the owner renews it while it lives
	Ended   bool      // checkpointed at SHARD_END: fully processed
	// Parents are the shards it was split or merged from; the KCL starts it only after they ended.
	Parents []string
}

// Held reports whether a live worker holds the lease at now.
func (l Lease) Held(now time.Time) bool { return l.Owner != "" && now.Before(l.Timeout) }

// Attributes and values of vmware-go-kcl-v2's lease items (clientlibrary/checkpoint).
const (
	kclOwner    = "AssignedTo"
	kclTimeout  = "LeaseTimeout" // RFC 3339 with nanoseconds, UTC
	kclCheckpnt = "Checkpoint"
	kclShardEnd = "SHARD_END"
	kclParent   = "ParentShardId"
)

// A LeaseTable reads a KCL lease table; it never writes to it.
type LeaseTable struct {
	client *dynamodb.Client
	table  string
}

// NewLeaseTable returns a reader of the KCL lease table named table.
func NewLeaseTable(client *dynamodb.Client, table string) (*LeaseTable, error) {
	if client == nil {
		return nil, errors.New("state: a DynamoDB client is required")
	}
	if !tableName.MatchString(table) {
		return nil, invalid("lease table", table, "want 3 to 255 characters of a-z, A-Z, 0-9, '_', '-', '.'")
	}
	return &LeaseTable{client: client, table: table}, nil
}

// Leases returns every shard of the lease table, ordered by shard id, read with strongly consistent reads. A lease
// timeout that does not parse counts as expired (the lease is not held).
func (t *LeaseTable) Leases(ctx context.Context) ([]Lease, error) {
	in := &dynamodb.ScanInput{TableName: aws.String(t.table), ConsistentRead: aws.Bool(true)}
	var out []Lease
	for {
		page, err := t.client.Scan(ctx, in)
		if err != nil {
			return nil, wrap("scan leases", t.table, err)
		}
		for _, it := range page.Items {
			id := getStr(it, KeyAttribute)
			if id == "" {
				continue
			}
			timeout, _ := time.Parse(time.RFC3339Nano, getStr(it, kclTimeout))
			l := Lease{ShardID: id, Owner: getStr(it, kclOwner), Timeout: timeout, Ended: getStr(it, kclCheckpnt) == kclShardEnd}
			if p := getStr(it, kclParent); p != "" {
				l.Parents = []string{p}
			}
			out = append(out, l)
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	slices.SortFunc(out, func(a, b Lease) int { return strings.Compare(a.ShardID, b.ShardID) })
	return out, nil
}
