// Package state owns kinflow's shared coordination state in DynamoDB: each shard's event-time progress (from which
// the finalizer computes the watermark), a lease lock so exactly one finalizer is active, and one finalization record
// per window.
//
// DynamoDB rather than the index, because these need conditional writes (a lock, a watermark that never moves
// back, a claimed revision) and strongly consistent reads, and every runtime (KCL consumer workers, Lambda) can
// reach it. All items share one table keyed by ShardID (string, no sort key; the CDK stack creates it) and are told
// apart by key prefix: progress#<shard id>, lock#<name>, window#<unix start>.
package state

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// KeyAttribute is the table's partition key, as the CDK stack declares it. The name comes from the KCL lease table,
// so one finalizer code path serves both modes.
const KeyAttribute = "ShardID"

// Key prefixes of the three kinds of item.
const (
	progressPrefix = "progress#"
	lockPrefix     = "lock#"
	windowPrefix   = "window#"
)

// TTLAttribute holds the Unix second after which DynamoDB may delete an item (ended shards, old windows, abandoned
// locks), so the table stays small without a sweeper.
const TTLAttribute = "ExpiresAt"

// A Store reads and writes kinflow's state items in one DynamoDB table. It is safe for concurrent use.
type Store struct {
	client *dynamodb.Client
	table  string
	// pageLimit caps the items a Scan evaluates per page (0: DynamoDB's 1 MB pages); tests lower it to prove that
	// every page is read.
	pageLimit int32
	// now is the wall clock for values the caller did not give (Hold's renewals, missing UpdatedAt).
	now func() time.Time
}

// tableName is DynamoDB's rule for table names.
var tableName = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)

// New returns a Store over table. It reports every problem with its arguments at once.
func New(client *dynamodb.Client, table string) (*Store, error) {
	var errs []error
	if client == nil {
		errs = append(errs, errors.New("state: a DynamoDB client is required"))
	}
	if !tableName.MatchString(table) {
		errs = append(errs, fmt.Errorf("state: table name %q: want 3 to 255 characters of a-z, A-Z, 0-9, '_', '-', '.'", table))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Store{client: client, table: table, now: time.Now}, nil
}

// Table returns the table's name.
func (s *Store) Table() string { return s.table }

// defaultTableWait bounds EnsureTable's wait for ACTIVE when ctx has no deadline.
const defaultTableWait = 5 * time.Minute

// EnsureTable creates the table (on demand, keyed by ShardID) unless it exists, and waits until it is ACTIVE. It is
// for tables kinflow owns (local runs, a consumer given a table of its own); in AWS the CDK stack creates it.
// Concurrent callers are fine: whoever loses the race to create it waits like everyone else. An existing table
// with another key schema is a permanent error. A table this call created gets its TTL enabled on ExpiresAt, where
// the endpoint supports TTL.
func (s *Store) EnsureTable(ctx context.Context) error {
	const op = "ensure table"
	out, err := s.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)})
	created := false
	switch {
	case err == nil:
		if err := checkKeySchema(out.Table); err != nil {
			return &Error{Op: op, Key: s.table, Err: err, permanent: true}
		}
	case isCode(err, "ResourceNotFoundException"):
		_, err = s.client.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:            aws.String(s.table),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(KeyAttribute), AttributeType: types.ScalarAttributeTypeS}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(KeyAttribute), KeyType: types.KeyTypeHash}},
		})
		// ResourceInUseException: someone else is creating it at the same time; wait for it like they do.
		if err != nil && !isCode(err, "ResourceInUseException") {
			return wrap(op, s.table, err)
		}
		created = err == nil
	default:
		return wrap(op, s.table, err)
	}

	wait := defaultTableWait
	if d, ok := ctx.Deadline(); ok {
		wait = time.Until(d)
	}
	// The SDK's default first delay is 20 s; tables here become ACTIVE in well under a second locally and within
	// seconds in AWS.
	waiter := dynamodb.NewTableExistsWaiter(s.client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 2*time.Second
	})
	if wait <= 0 {
		return wrap(op, s.table, context.DeadlineExceeded)
	}
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)}, wait); err != nil {
		return wrap(op, s.table, fmt.Errorf("waiting for ACTIVE: %w", err))
	}
	if !created {
		return nil
	}
	_, err = s.client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(s.table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(TTLAttribute),
			Enabled:       aws.Bool(true),
		},
	})
	// Some emulators (dynalite) have no TTL at all; items then simply stay, which is harmless locally.
	if err != nil && !isCode(err, "UnknownOperationException") {
		return wrap(op, s.table, fmt.Errorf("enabling TTL on %s: %w", TTLAttribute, err))
	}
	return nil
}

// checkKeySchema rejects a table that is not keyed by ShardID alone: every item written here would land wrongly.
func checkKeySchema(t *types.TableDescription) error {
	if t == nil {
		return errors.New("DescribeTable returned no table")
	}
	if len(t.KeySchema) != 1 || aws.ToString(t.KeySchema[0].AttributeName) != KeyAttribute || t.KeySchema[0].KeyType != types.KeyTypeHash {
		return fmt.Errorf("want a single hash key %s, the table has %s", KeyAttribute, describeKeys(t.KeySchema))
	}
	for _, a := range t.AttributeDefinitions {
		if aws.ToString(a.AttributeName) == KeyAttribute && a.AttributeType != types.ScalarAttributeTypeS {
			return fmt.Errorf("want %s of type S, the table has %s", KeyAttribute, a.AttributeType)
		}
	}
	return nil
}

func describeKeys(ks []types.KeySchemaElement) string {
	s := ""
	for i, k := range ks {
		if i > 0 {
			s += ", "
		}
		s += aws.ToString(k.AttributeName) + " " + string(k.KeyType)
	}
	if s == "" {
		return "no key"
	}
	return s
}

// scan returns every item whose key starts with prefix, reading all pages with strongly consistent reads.
// filter, when not empty, is ANDed to the prefix test; values and names hold its placeholders.
func (s *Store) scan(ctx context.Context, prefix, filter string, values map[string]types.AttributeValue, names map[string]string) ([]map[string]types.AttributeValue, error) {
	expr := "begins_with(#k, :prefix)"
	if filter != "" {
		expr += " AND (" + filter + ")"
	}
	vals := map[string]types.AttributeValue{":prefix": str(prefix)}
	for k, v := range values {
		vals[k] = v
	}
	attrNames := map[string]string{"#k": KeyAttribute}
	for k, v := range names {
		attrNames[k] = v
	}
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(s.table),
		ConsistentRead:            aws.Bool(true),
		FilterExpression:          aws.String(expr),
		ExpressionAttributeNames:  attrNames,
		ExpressionAttributeValues: vals,
	}
	if s.pageLimit > 0 {
		in.Limit = aws.Int32(s.pageLimit)
	}
	var items []map[string]types.AttributeValue
	for {
		out, err := s.client.Scan(ctx, in)
		if err != nil {
			return nil, err
		}
		items = append(items, out.Items...)
		if len(out.LastEvaluatedKey) == 0 {
			return items, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}
