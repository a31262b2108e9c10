package finalize

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/kinflow/kinflow/aggregate"
	"github.com/kinflow/kinflow/internal/retry"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/webhook"
)

// windowWriter collects one window's finals in chunks of chunkIPs: each full chunk is written to the index, then
// posted. A chunk is only sent once the next final exists, so the last one is known to be last. Finals arrive in the
// order of their IPs' hashes (eachSet); a chunk holds its IPs in ascending order.
type windowWriter struct {
	f               *Finalizer
	start, end, rev int64
	chunkIPs        int
	top             *webhook.Top // rich format only

	pending      []aggregate.Final
	pendingBytes int // sizeOf the pending finals
	chunk        int // index of the next chunk

	finals, delivered, deadLettered, superseded int
}

func (w *windowWriter) add(ctx context.Context, fin aggregate.Final) error {
	size := sizeOf(&fin)
	if len(w.pending) == w.chunkIPs || len(w.pending) > 0 && w.pendingBytes+size > w.f.cfg.ChunkBytes {
		if err := w.flush(ctx, false); err != nil {
			return err
		}
	}
	w.pending = append(w.pending, fin)
	w.pendingBytes += size
	if w.top != nil {
		w.top.Add(&w.pending[len(w.pending)-1])
	}
	return nil
}

// flush writes the pending finals and delivers them as the next chunk.
func (w *windowWriter) flush(ctx context.Context, last bool) error {
	if len(w.pending) == 0 {
		return nil
	}
	f := w.f
	slices.SortFunc(w.pending, func(a, b aggregate.Final) int { return a.IP.Compare(b.IP) })
	docs := make([]sink.Doc, len(w.pending))
	index := f.indices.Conns(time.Unix(w.start, 0))
	var arena []byte
	spans := make([][2]int, len(w.pending))
	for i := range w.pending {
		spans[i][0] = len(arena)
		var err error
		if arena, err = w.pending[i].AppendJSON(arena); err != nil {
			return err
		}
		spans[i][1] = len(arena)
	}
	for i := range w.pending {
		docs[i] = sink.Doc{Index: index, ID: w.pending[i].ID(), Op: sink.OpIndex, Source: arena[spans[i][0]:spans[i][1]]}
	}
	if err := f.parts.Sink.Write(ctx, docs); err != nil {
		return fmt.Errorf("writing %d finals: %w", len(docs), err)
	}
	w.finals += len(docs)
	f.metrics.finals.Add(float64(len(docs)))
	if err := f.reached(stepFinalsWritten, w.start, w.chunk); err != nil {
		return err
	}
	if f.parts.Webhook != nil {
		ch := &webhook.Chunk{WindowStart: w.start, WindowEnd: w.end, Revision: w.rev, Index: w.chunk, Last: last,
			Sets: w.pending}
		if last && w.top != nil {
			ch.Top = w.top.Sets()
		}
		if err := w.deliver(ctx, ch); err != nil {
			return err
		}
	}
	w.chunk++
	clear(w.pending)
	w.pending, w.pendingBytes = w.pending[:0], 0
	return nil
}

// sizeOf bounds a final's size both as rich webhook JSON (an IPv6 peer is at most 41 characters, quoted, with a
// comma; a port 6; the rest under 512) and in memory (24 bytes a peer, 2 a port, 16 KiB a sketch). It depends on
// the final alone, so a redo cuts a window into the same chunks.
func sizeOf(f *aggregate.Final) int {
	n := 512 + 44*len(f.Peers) + 6*len(f.DstPorts)
	if f.PeersEstimated {
		n += 16 << 10
	}
	return n
}

// deliver posts one chunk of finals to the connection-set webhook (send).
func (w *windowWriter) deliver(ctx context.Context, ch *webhook.Chunk) error {
	f := w.f
	m, err := f.parts.Webhook.Message(ch)
	if err != nil {
		return err
	}
	dead, err := f.send(ctx, f.parts.Webhook, m)
	switch {
	case err != nil:
		return fmt.Errorf("delivering chunk %d: %w", ch.Index, err)
	case dead:
		w.deadLettered++
	default:
		w.delivered++
	}
	return nil
}

// send posts one message. A delivery that failed for good (retry.IsPermanent: the webhook refused it, or its last
// attempt failed) goes to the dead-letter index with its body and idempotency key, and send reports true; only a
// context end (the pass stops, the window is redone) is an error.
func (f *Finalizer) send(ctx context.Context, client *webhook.Client, m *webhook.Message) (deadLettered bool, err error) {
	err = client.Send(ctx, m)
	var derr *webhook.DeliveryError
	switch {
	case err == nil:
		return false, nil
	case retry.IsRetryable(err) || !errors.As(err, &derr):
		// Neither delivered nor final: the context ended (the pass stops, the next one redoes the window).
		return false, err
	}
	// Dead letters are keyed by shard and sequence number; a delivery has neither, so "webhook" and its
	// idempotency key stand in: a redo that fails again leaves one dead letter, not two.
	dl := sink.NewDeadLetter(f.indices.DeadLetter(), sink.Origin{ShardID: "webhook", SequenceNumber: m.Key, Raw: m.Body},
		sink.StageWebhook, derr.Reason(), err, f.now())
	if werr := f.parts.Sink.Write(ctx, []sink.Doc{dl}); werr != nil {
		return false, fmt.Errorf("dead-lettering %s: %w", m.Key, werr)
	}
	f.metrics.deadLettered.WithLabelValues(derr.Reason()).Inc()
	f.log.Error("webhook delivery dead-lettered", "key", m.Key, "reason", derr.Reason(), "error", err)
	return true, nil
}
