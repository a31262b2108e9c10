package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kinflow/kinflow/internal/retry"
	"github.com/kinflow/kinflow/internal/sink"
)

// A Reader reads documents back from the cluster; every sink.Client is one. The pipeline uses it only when a flow's
// document already existed, to learn which record wrote it first.
type Reader = sink.Doer

// ErrOwner is wrapped by the errors of looking up who wrote an existing flow document. The lookup is retried until
// the context ends, so Commit returns it only then (nothing of the batch counts).
var ErrOwner = errors.New("pipeline: reading the first writer of existing flow documents")

// ownerFields are the document fields naming the record that wrote it (vpcflow.Source's ShardID, SequenceNumber).
const ownerFields = "aws.kinesis.shard_id,aws.kinesis.sequence_number"

// dropDuplicates leaves out of the batch's pending flows those whose document was already written by another
// record: the same payload delivered twice (a producer's retry, CloudWatch Logs' at-least-once delivery) on this
// shard or another. A flow counts in the connection sets of the record that created its document, and only there:
// a replay of that record (after a crash or a lease steal) finds its own name in the document and counts it again in
// the same partial (same id), so no interleaving of replays, kills and duplicates counts a flow twice or not at all.
// Flows whose document was dead-lettered by the cluster are left out as well: they are not in the index, and a
// redrive that indexes them corrects their windows then.
// It returns how many flows it left out as duplicates.
func (s *Shard) dropDuplicates(ctx context.Context, b *Batch) (dropped int, err error) {
	var exists []int // spans whose create answered 409
	for i := range b.spans {
		sp := &b.spans[i]
		if sp.pending < 0 {
			continue
		}
		switch b.outcomes[i] {
		case sink.OutcomeExists:
			exists = append(exists, i)
		case sink.OutcomeDeadLettered:
			b.drop[sp.pending] = true // not a duplicate: counted among the dead letters
		}
	}
	if len(exists) == 0 {
		return dropped, nil
	}
	if s.p.reader == nil {
		return 0, fmt.Errorf("%w: %d documents already existed and the pipeline has no Reader", ErrOwner, len(exists))
	}
	// A lookup that fails (the cluster throttling or down, a document that answered 409 but is not found yet on the
	// copy that answers) is transient like any write: waited out with capped, jittered backoff until ctx ends,
	// never turned into a lost or double-counted flow.
	err = retry.Do(ctx, s.p.retry, func(ctx context.Context) error {
		owners, err := s.owners(ctx, b, exists)
		if err != nil {
			return err
		}
		var missing []int
		for j, i := range exists {
			sp := &b.spans[i]
			switch o := owners[j]; {
			case !o.found:
				missing = append(missing, i)
			case o.shard == "" && o.sequence == "":
				// Written before documents named their record: counted, as kinflow always did.
			case o.shard != s.id || o.sequence != sp.origin.SequenceNumber:
				b.drop[sp.pending] = true
				dropped++
			}
		}
		if len(missing) == 0 {
			return nil
		}
		err = fmt.Errorf("%w: %d of %d documents answered 409 but are not found (first: %s/%s)", ErrOwner,
			len(missing), len(exists), b.spans[missing[0]].index, b.docs[missing[0]].ID)
		exists = missing
		return err
	}, retry.OnRetry(func(err error, _ int, wait time.Duration) {
		s.p.metrics.retries.WithLabelValues("owner_lookup").Inc()
		s.log.Warn("reading the first writer of existing flow documents failed; retrying", "error", err, "wait", wait)
	}))
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrOwner, err)
	}
	return dropped, nil
}

// owner is what a stored flow document says of the record that wrote it.
type owner struct {
	found           bool
	shard, sequence string
}

// owners reads the record names of the documents of spans idx with one _mget (realtime: it sees writes that are
// not yet refreshed).
func (s *Shard) owners(ctx context.Context, b *Batch, idx []int) ([]owner, error) {
	type ref struct {
		Index string `json:"_index"`
		ID    string `json:"_id"`
	}
	refs := make([]ref, len(idx))
	for j, i := range idx {
		refs[j] = ref{Index: b.spans[i].index, ID: b.docs[i].ID}
	}
	body, err := json.Marshal(map[string]any{"docs": refs})
	if err != nil {
		return nil, err
	}
	var res struct {
		Docs []struct {
			Found  bool `json:"found"`
			Source struct {
				AWS struct {
					Kinesis struct {
						ShardID        string `json:"shard_id"`
						SequenceNumber string `json:"sequence_number"`
					} `json:"kinesis"`
				} `json:"aws"`
			} `json:"_source"`
		} `json:"docs"`
	}
	if err := sink.DoJSON(ctx, s.p.reader, "POST", "/_mget?_source_includes="+ownerFields, body, 64<<20, &res); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOwner, err)
	}
	if len(res.Docs) != len(idx) {
		return nil, fmt.Errorf("%w: %d documents asked, %d answered", ErrOwner, len(idx), len(res.Docs))
	}
	out := make([]owner, len(idx))
	for j, d := range res.Docs {
		out[j] = owner{found: d.Found, shard: d.Source.AWS.Kinesis.ShardID, sequence: d.Source.AWS.Kinesis.SequenceNumber}
	}
	return out, nil
}
