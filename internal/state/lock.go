package state

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Lock item attributes.
const (
	attrOwner   = "Owner"
	attrExpires = "LeaseExpires" // Unix milliseconds; the lease, not the item's TTL
)

// lockTTL keeps an abandoned lock item (a renamed finalizer, a crashed test) from staying forever; a live lease is
// renewed long before it.
const lockTTL = 24 * time.Hour

// Acquire takes or renews the lease lock name for owner until now+lease. It succeeds when the lock is absent,
// expired (its stored expiry is at or before now, the caller's clock) or already owner's (a renewal). held is false,
// with a nil error, when someone else holds an unexpired lease.
//
// Leases compare clocks of different hosts: choose a lease well above the clock skew between them.
func (s *Store) Acquire(ctx context.Context, name, owner string, lease time.Duration, now time.Time) (held bool, expires time.Time, err error) {
	const op = "acquire lock"
	if err := checkLock(op, name, owner, lease); err != nil {
		return false, time.Time{}, err
	}
	expires = now.Add(lease)
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 key(lockPrefix + name),
		UpdateExpression:    aws.String("SET #o = :owner, #e = :expires, #x = :ttl"),
		ConditionExpression: aws.String("attribute_not_exists(#k) OR #e <= :now OR #o = :owner"),
		ExpressionAttributeNames: map[string]string{
			"#k": KeyAttribute, "#o": attrOwner, "#e": attrExpires, "#x": TTLAttribute,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":owner":   str(owner),
			":expires": millis(expires),
			":now":     millis(now),
			":ttl":     num(expires.Add(lockTTL).Unix()),
		},
	})
	if conditionFailed(err) {
		return false, time.Time{}, nil
	}
	if err != nil {
		return false, time.Time{}, wrap(op, name, err)
	}
	return true, expires, nil
}

// Release deletes the lock if owner holds it (expired or not, as long as nobody took it since). Otherwise it
// changes nothing and returns an error wrapping ErrNotHeld.
func (s *Store) Release(ctx context.Context, name, owner string) error {
	const op = "release lock"
	if err := checkLock(op, name, owner, time.Second); err != nil {
		return err
	}
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(lockPrefix + name),
		ConditionExpression:       aws.String("#o = :owner"),
		ExpressionAttributeNames:  map[string]string{"#o": attrOwner},
		ExpressionAttributeValues: map[string]types.AttributeValue{":owner": str(owner)},
	})
	if err != nil {
		return wrapCondition(op, name, err, ErrNotHeld)
	}
	return nil
}

func checkLock(op, name, owner string, lease time.Duration) error {
	var errs []error
	if name == "" {
		errs = append(errs, errors.New("empty lock name"))
	}
	if owner == "" {
		errs = append(errs, errors.New("empty owner"))
	}
	if lease <= 0 {
		errs = append(errs, errors.New("lease must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return &Error{Op: op, Key: name, Err: err, permanent: true}
	}
	return nil
}

// A Lock is a lease held by Hold and renewed in the background every lease/3 until Release or the end of Hold's
// context.
type Lock struct {
	s            *Store
	name, owner  string
	lease        time.Duration
	lost         chan struct{}
	cancel       context.CancelCauseFunc // ends the context Hold handed out
	stop         chan struct{}
	done         chan struct{}
	releaseOnce  sync.Once
	releaseError error

	// Written by the renewer before it closes done.
	stolen bool
}

// Hold acquires the lease lock name for owner and keeps renewing it in the background. It does not wait: when
// someone else holds the lock it returns an error wrapping ErrNotHeld at once.
//
// The context it returns, derived from ctx, is the holder's licence to work: it is cancelled, with ErrLost as its
// cause (context.Cause), as soon as the lock is lost, and when Release is called. Run what needs the lock under it,
// so that work stops before another owner can have started.
//
// The lock is lost, and Lost is closed, when the holder can no longer rely on it: a renewal found another owner (it
// expired and was taken), renewals failed until the lease ran out, or ctx ended (nobody renews it any more).
func (s *Store) Hold(ctx context.Context, name, owner string, lease time.Duration) (context.Context, *Lock, error) {
	held, expires, err := s.Acquire(ctx, name, owner, lease, s.now())
	if err != nil {
		return nil, nil, err
	}
	if !held {
		return nil, nil, &Error{Op: "hold lock", Key: name, Err: ErrNotHeld, permanent: true}
	}
	hctx, cancel := context.WithCancelCause(ctx)
	l := &Lock{
		s: s, name: name, owner: owner, lease: lease, cancel: cancel,
		lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go l.renew(ctx, expires)
	return hctx, l, nil
}

// renew keeps the lease until stop, ctx's end, or the lease is lost.
func (l *Lock) renew(ctx context.Context, expires time.Time) {
	defer close(l.done)
	t := time.NewTicker(max(l.lease/3, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-ctx.Done():
			l.lose()
			return
		case <-t.C:
		}
		now := l.s.now()
		if !now.Before(expires) {
			// Renewals failed (or came too late) until the lease ran out; another owner may hold it already.
			l.lose()
			return
		}
		// No renewal attempt may outlive the lease it is trying to extend.
		rctx, cancel := context.WithTimeout(ctx, expires.Sub(now))
		held, next, err := l.s.Acquire(rctx, l.name, l.owner, l.lease, now)
		cancel()
		switch {
		case err != nil:
			// Transient (throttling, network): try again at the next tick while the lease lasts.
		case !held:
			l.stolen = true
			l.lose()
			return
		default:
			expires = next
		}
	}
}

// lose tells the holder the lock is gone: its context first, since that is what stops its work.
func (l *Lock) lose() {
	l.cancel(ErrLost)
	close(l.lost)
}

// Lost returns a channel closed when the lock is no longer held (see Hold). Release does not close it.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

// Release stops the renewals, ends the context Hold handed out, and deletes the lock if it is still this owner's.
// When another owner took it, it returns an error wrapping ErrNotHeld. Calling it again returns the first answer.
func (l *Lock) Release(ctx context.Context) error {
	l.releaseOnce.Do(func() {
		close(l.stop)
		<-l.done
		// The holder's work must be over before the lock is free for another owner. A context the loss already
		// cancelled keeps ErrLost as its cause.
		l.cancel(context.Canceled)
		if l.stolen {
			l.releaseError = &Error{Op: "release lock", Key: l.name, Err: ErrNotHeld, permanent: true}
			return
		}
		l.releaseError = l.s.Release(ctx, l.name, l.owner)
	})
	return l.releaseError
}
