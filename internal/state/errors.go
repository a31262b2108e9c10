package state

import (
	"errors"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

var (
	// ErrConflict: the window's record moved on (another finalizer claimed a later revision, finished this one, or
	// the revision asked for does not follow the stored one). Re-read the window before deciding what to do.
	ErrConflict = errors.New("window record changed by another finalizer")
	// ErrNotHeld: the lock belongs to someone else (or to nobody, for a release).
	ErrNotHeld = errors.New("lock not held")
	// ErrLost is the cause of a held lock's context ending because the lock was lost (see Store.Hold).
	ErrLost = errors.New("lock lost")
)

// An Error is a failed state operation: Op and Key say what, Err why. Permanent says whether repeating the same
// request can succeed; a conflict or a lock held by another is permanent for that request (re-read and decide),
// throttling and network failures are not.
type Error struct {
	Op  string // e.g. "put progress", "claim window"
	Key string // the shard id, lock name, window start or table the operation was about
	Err error

	permanent bool
}

func (e *Error) Error() string { return "state: " + e.Op + " " + e.Key + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Permanent reports whether retrying the same request is pointless; retry.IsPermanent asks it.
func (e *Error) Permanent() bool { return e.permanent }

// permanentCode reports DynamoDB answers that no retry changes.
func permanentCode(code string) bool {
	switch code {
	case "ValidationException", "ResourceNotFoundException", "AccessDeniedException", "UnrecognizedClientException",
		"MissingAuthenticationTokenException", "SerializationException":
		return true
	}
	return false
}

// wrap adds context to a DynamoDB failure and sorts it.
func wrap(op, key string, err error) error {
	var ae smithy.APIError
	permanent := errors.As(err, &ae) && permanentCode(ae.ErrorCode())
	return &Error{Op: op, Key: key, Err: err, permanent: permanent}
}

// wrapCondition reports a failed write condition as sentinel (permanent: re-read, do not repeat); anything else
// is wrapped as by wrap.
func wrapCondition(op, key string, err, sentinel error) error {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return &Error{Op: op, Key: key, Err: sentinel, permanent: true}
	}
	return wrap(op, key, err)
}

func conditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// invalid is a caller mistake; retrying it is pointless.
func invalid(op, key, msg string) error {
	return &Error{Op: op, Key: key, Err: errors.New(msg), permanent: true}
}

func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

// Attribute helpers. Times are stored as Unix milliseconds; a zero time.Time is not stored at all.

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}
func boolean(b bool) types.AttributeValue {
	return &types.AttributeValueMemberBOOL{Value: b}
}
func millis(t time.Time) types.AttributeValue { return num(t.UnixMilli()) }

func getStr(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getNum(item map[string]types.AttributeValue, name string) (int64, bool) {
	v, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	return n, err == nil
}

func getBool(item map[string]types.AttributeValue, name string) bool {
	v, ok := item[name].(*types.AttributeValueMemberBOOL)
	return ok && v.Value
}

func getTime(item map[string]types.AttributeValue, name string) time.Time {
	ms, ok := getNum(item, name)
	if !ok {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

func key(k string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{KeyAttribute: str(k)}
}
