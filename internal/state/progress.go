package state

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Progress is one shard's position in event time, written by the shard processor after each acknowledged checkpoint.
type Progress struct {
	ShardID    string
	Watermark  int64     // latest flow event time (Unix seconds) the shard has acknowledged; never moves back
	CaughtUp   bool      // the reader is at the tip of the shard (KCL MillisBehindLatest small; Lambda: last record arrived recently)
	Ended      bool      // the shard is closed (SHARD_END) and fully acknowledged: it no longer holds the watermark back
	LastDataAt time.Time // wall clock of the last acknowledged batch that carried flows
	UpdatedAt  time.Time // wall clock of this write
	// Registered: the row was written by Register for a shard that has not reported yet; its Watermark means
	// nothing (0) and UpdatedAt is when the finalizer first saw the shard.
	Registered bool
}

// EndedTTL is how long an ended shard's progress stays before DynamoDB's TTL removes it: long past any window it
// could still matter to, short enough that years of resharding do not pile up.
const EndedTTL = 7 * 24 * time.Hour

// Progress item attributes.
const (
	attrWatermark  = "Watermark"
	attrCaughtUp   = "CaughtUp"
	attrEnded      = "Ended"
	attrLastDataAt = "LastDataAt"
	attrUpdatedAt  = "UpdatedAt"
	attrRegistered = "Registered" // written by Register only: the row is the finalizer's, not the shard's
)

// errBusy: no write's condition held. Watermark and LastDataAt only grow, so one of the four writes in PutProgress
// always matches; this means the item was changed by something other than PutProgress.
var errBusy = errors.New("stored progress changed outside PutProgress")

// PutProgress records p. Watermark and LastDataAt never move back: an older value (a replay after a lease steal,
// a late Lambda retry) leaves them as stored, while CaughtUp and UpdatedAt still take p's values. Ended never goes
// back to false, and an ended shard gets ExpiresAt = UpdatedAt + EndedTTL. A zero UpdatedAt means now; a zero
// LastDataAt leaves the stored one.
func (s *Store) PutProgress(ctx context.Context, p Progress) error {
	const op = "put progress"
	if p.ShardID == "" {
		return invalid(op, `""`, "empty shard id")
	}
	if p.UpdatedAt.IsZero() {
		p.UpdatedAt = s.now()
	}
	k := key(progressPrefix + p.ShardID)

	// DynamoDB has no max() in update expressions, so each write states which of the two monotonic values it sets
	// and is conditional on exactly the stored state that makes that right. Moving forward (both set) is the
	// common case and costs one request. When its condition fails, a stored value is ahead of p's, and since
	// stored values only grow that stays true: trying the other combinations in this order finds the one that
	// holds within four requests, with no read and no retry loop under contention.
	writes := [][2]bool{{true, true}, {false, true}, {true, false}, {false, false}}
	if p.LastDataAt.IsZero() {
		writes = [][2]bool{{true, false}, {false, false}}
	}
	for _, w := range writes {
		err := s.updateProgress(ctx, k, p, w[0], w[1])
		if err == nil {
			return nil
		}
		if !conditionFailed(err) {
			return wrap(op, p.ShardID, err)
		}
	}
	return &Error{Op: op, Key: p.ShardID, Err: errBusy}
}

// updateProgress writes p's CaughtUp, UpdatedAt and (when true) Ended. With setWm it also writes the Watermark,
// conditional on the stored one not being ahead; without, it is conditional on the stored one being ahead. The
// same goes for LastDataAt and setLda when p carries a LastDataAt; otherwise LastDataAt is neither read nor written.
func (s *Store) updateProgress(ctx context.Context, k map[string]types.AttributeValue, p Progress, setWm, setLda bool) error {
	names := map[string]string{"#wm": attrWatermark, "#cu": attrCaughtUp, "#ua": attrUpdatedAt}
	vals := map[string]types.AttributeValue{
		":wm": num(p.Watermark),
		":cu": boolean(p.CaughtUp),
		":ua": millis(p.UpdatedAt),
	}
	set := []string{"#cu = :cu", "#ua = :ua"}
	remove := " REMOVE " + attrRegistered // the shard's own write ends a registration
	var cond []string
	if setWm {
		set = append(set, "#wm = :wm")
		cond = append(cond, "(attribute_not_exists(#wm) OR #wm <= :wm)")
	} else {
		cond = append(cond, "#wm > :wm")
	}
	if !p.LastDataAt.IsZero() {
		names["#lda"] = attrLastDataAt
		vals[":lda"] = millis(p.LastDataAt)
		if setLda {
			set = append(set, "#lda = :lda")
			cond = append(cond, "(attribute_not_exists(#lda) OR #lda <= :lda)")
		} else {
			cond = append(cond, "#lda > :lda")
		}
	}
	if p.Ended {
		// Only ever set to true: a write with Ended false leaves a stored true alone.
		names["#e"], names["#x"] = attrEnded, TTLAttribute
		vals[":true"] = boolean(true)
		vals[":exp"] = num(p.UpdatedAt.Add(EndedTTL).Unix())
		set = append(set, "#e = :true", "#x = :exp")
	}
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       k,
		UpdateExpression:          aws.String("SET " + strings.Join(set, ", ") + remove),
		ConditionExpression:       aws.String(strings.Join(cond, " AND ")),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
	})
	return err
}

// Progress returns every shard's progress, ordered by shard id, read with strongly consistent reads.
func (s *Store) Progress(ctx context.Context) ([]Progress, error) {
	items, err := s.scan(ctx, progressPrefix, "", nil, nil)
	if err != nil {
		return nil, wrap("scan progress", s.table, err)
	}
	ps := make([]Progress, 0, len(items))
	for _, it := range items {
		ps = append(ps, decodeProgress(it))
	}
	slices.SortFunc(ps, func(a, b Progress) int { return strings.Compare(a.ShardID, b.ShardID) })
	return ps, nil
}

func decodeProgress(it map[string]types.AttributeValue) Progress {
	wm, _ := getNum(it, attrWatermark)
	return Progress{
		ShardID:    strings.TrimPrefix(getStr(it, KeyAttribute), progressPrefix),
		Watermark:  wm,
		CaughtUp:   getBool(it, attrCaughtUp),
		Ended:      getBool(it, attrEnded),
		LastDataAt: getTime(it, attrLastDataAt),
		UpdatedAt:  getTime(it, attrUpdatedAt),
		Registered: getBool(it, attrRegistered),
	}
}

// RenewRegistration moves the UpdatedAt of a shard's registration (see Register) to now, for a shard that cannot
// report yet because it waits for its parents: its silence is counted from when it could start. A row the shard
// has written itself is left as it is; that is not an error.
func (s *Store) RenewRegistration(ctx context.Context, shardID string, now time.Time) error {
	const op = "renew registration"
	if shardID == "" {
		return invalid(op, `""`, "empty shard id")
	}
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(progressPrefix + shardID),
		UpdateExpression:          aws.String("SET #ua = :ua"),
		ConditionExpression:       aws.String("#r = :true"),
		ExpressionAttributeNames:  map[string]string{"#ua": attrUpdatedAt, "#r": attrRegistered},
		ExpressionAttributeValues: map[string]types.AttributeValue{":ua": millis(now), ":true": boolean(true)},
	})
	if err != nil && !conditionFailed(err) {
		return wrap(op, shardID, err)
	}
	return nil
}

// Register records a first progress row for a shard the finalizer knows of (from the KCL lease table) but that
// has not reported yet: Watermark 0, not caught up, UpdatedAt now. From then on the shard holds the watermark back
// until it reports, and if it never does, it counts as stuck MaxDelay after now. A shard that already has a row
// (its own progress, or an earlier registration) is left as it is; that is not an error.
func (s *Store) Register(ctx context.Context, shardID string, now time.Time) error {
	const op = "register shard"
	if shardID == "" {
		return invalid(op, `""`, "empty shard id")
	}
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item: map[string]types.AttributeValue{
			KeyAttribute:   str(progressPrefix + shardID),
			attrWatermark:  num(0),
			attrCaughtUp:   boolean(false),
			attrUpdatedAt:  millis(now),
			attrRegistered: boolean(true),
		},
		ConditionExpression:      aws.String("attribute_not_exists(#k)"),
		ExpressionAttributeNames: map[string]string{"#k": KeyAttribute},
	})
	if err != nil && !conditionFailed(err) {
		return wrap(op, shardID, err)
	}
	return nil
}
