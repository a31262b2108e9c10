package state

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Window records one window's finalization.
type Window struct {
	Start       int64  // Unix seconds
	Revision    int64  // 1 for the first finalization, +1 per correction
	Fingerprint string // what the finalizer saw of the window's partials when it claimed this revision
	Done        bool   // revision Revision was fully written and delivered
	UpdatedAt   time.Time
}

// WindowTTL is how long after its start a window's record stays: past it, no correction is attempted anyway.
const WindowTTL = 30 * 24 * time.Hour

// Window item attributes.
const (
	attrStart       = "Start"
	attrRevision    = "Revision"
	attrFingerprint = "Fingerprint"
	attrDone        = "Done"
)

func windowKey(start int64) string { return windowPrefix + strconv.FormatInt(start, 10) }

// Window returns the record of the window starting at start; found is false when there is none.
func (s *Store) Window(ctx context.Context, start int64) (w Window, found bool, err error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(windowKey(start)),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Window{}, false, wrap("get window", strconv.FormatInt(start, 10), err)
	}
	if len(out.Item) == 0 {
		return Window{}, false, nil
	}
	return decodeWindow(out.Item), true, nil
}

// Windows returns the records of the windows whose Start is in [from, to), in ascending order of Start.
func (s *Store) Windows(ctx context.Context, from, to int64) ([]Window, error) {
	items, err := s.scan(ctx, windowPrefix, "#start >= :from AND #start < :to", map[string]types.AttributeValue{
		":from": num(from), ":to": num(to),
	}, map[string]string{"#start": attrStart})
	if err != nil {
		return nil, wrap("scan windows", strconv.FormatInt(from, 10)+".."+strconv.FormatInt(to, 10), err)
	}
	ws := make([]Window, 0, len(items))
	for _, it := range items {
		ws = append(ws, decodeWindow(it))
	}
	slices.SortFunc(ws, func(a, b Window) int { return cmpInt(a.Start, b.Start) })
	return ws, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Claim records that revision w.Revision of the window is being finalized from w.Fingerprint, not yet done. It
// succeeds when
//   - there is no record and w.Revision is 1 (the first finalization),
//   - the stored revision is w.Revision and not done (a redo after a crash; the fingerprint is replaced), or
//   - the stored revision is w.Revision-1 and done (a correction).
//
// Anything else returns an error wrapping ErrConflict: another finalizer moved on (including one that already
// finished this same revision; a correction of it must claim the next). A zero UpdatedAt means now.
func (s *Store) Claim(ctx context.Context, w Window) error {
	const op = "claim window"
	k := strconv.FormatInt(w.Start, 10)
	if w.Revision < 1 {
		return invalid(op, k, "revision must be 1 or more, got "+strconv.FormatInt(w.Revision, 10))
	}
	if w.UpdatedAt.IsZero() {
		w.UpdatedAt = s.now()
	}
	vals := map[string]types.AttributeValue{
		":start": num(w.Start),
		":rev":   num(w.Revision),
		":fp":    str(w.Fingerprint),
		":false": boolean(false),
		":ua":    millis(w.UpdatedAt),
		":ttl":   num(time.Unix(w.Start, 0).Add(WindowTTL).Unix()),
	}
	names := map[string]string{
		"#start": attrStart, "#rev": attrRevision, "#fp": attrFingerprint,
		"#done": attrDone, "#ua": attrUpdatedAt, "#x": TTLAttribute,
	}
	cond := "(#rev = :rev AND #done = :false)"
	if w.Revision == 1 {
		cond = "attribute_not_exists(#k) OR " + cond
		names["#k"] = KeyAttribute
	} else {
		cond += " OR (#rev = :prev AND #done = :true)"
		vals[":prev"] = num(w.Revision - 1)
		vals[":true"] = boolean(true)
	}
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(windowKey(w.Start)),
		UpdateExpression:          aws.String("SET #start = :start, #rev = :rev, #fp = :fp, #done = :false, #ua = :ua, #x = :ttl"),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
	})
	if err != nil {
		return wrapCondition(op, k, err, ErrConflict)
	}
	return nil
}

// Finish marks revision revision of the window starting at start as done. It returns an error wrapping
// ErrConflict when the stored revision is another (or there is no record). Finishing twice is fine.
func (s *Store) Finish(ctx context.Context, start, revision int64, now time.Time) error {
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      key(windowKey(start)),
		UpdateExpression:         aws.String("SET #done = :true, #ua = :ua"),
		ConditionExpression:      aws.String("#rev = :rev"),
		ExpressionAttributeNames: map[string]string{"#rev": attrRevision, "#done": attrDone, "#ua": attrUpdatedAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":rev": num(revision), ":true": boolean(true), ":ua": millis(now),
		},
	})
	if err != nil {
		return wrapCondition("finish window", strconv.FormatInt(start, 10), err, ErrConflict)
	}
	return nil
}

func decodeWindow(it map[string]types.AttributeValue) Window {
	start, _ := getNum(it, attrStart)
	rev, _ := getNum(it, attrRevision)
	return Window{
		Start:       start,
		Revision:    rev,
		Fingerprint: getStr(it, attrFingerprint),
		Done:        getBool(it, attrDone),
		UpdatedAt:   getTime(it, attrUpdatedAt),
	}
}
