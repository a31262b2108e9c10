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

// windowWriter collects one window's finals in chunks of chunkIPs: each chunk is written to the index, then posted.
// Up to chunksInFlight chunks are written at once (a chunk is one bulk request, and the cluster indexes several
// side by side), but chunks are posted one by one in order, each only once its finals are durable. A chunk is only
// started once the next final exists, so the last one is known to be last. Finals arrive in the order of their
// IPs' hashes (eachSet); a chunk holds its IPs in ascending order.
type windowWriter struct {
	f               *Finalizer
	start, end, rev int64
	chunkIPs        int
	top             *webhook.Top // rich format only

	pending      []aggregate.Final
	pendingBytes int // sizeOf the pending finals
	chunk        int // index of the next chunk
	writing      []*chunkWrite

	finals, delivered, deadLettered, superseded int
}

// chunksInFlight bounds the chunks being written at once: the sink's default requests in flight.
const chunksInFlight = 4

// chunkWrite is one chunk on its way: its finals being written, then posted.
type chunkWrite struct {
	index int
	last  bool
	sets  []aggregate.Final
	done  chan error // the write's outcome
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

// flush starts writing the pending finals as the next chunk, and posts the chunks whose turn has come: all of them
// when last.
func (w *windowWriter) flush(ctx context.Context, last bool) error {
	if len(w.pending) > 0 {
		slices.SortFunc(w.pending, func(a, b aggregate.Final) int { return a.IP.Compare(b.IP) })
		docs, err := w.docs(w.pending)
		if err != nil {
			return err
		}
		c := &chunkWrite{index: w.chunk, last: last, sets: w.pending, done: make(chan error, 1)}
		go func() { c.done <- w.f.parts.Sink.Write(ctx, docs) }()
		w.writing = append(w.writing, c)
		w.chunk++
		w.pending, w.pendingBytes = make([]aggregate.Final, 0, len(w.pending)), 0
	}
	for len(w.writing) > 0 && (last || len(w.writing) >= chunksInFlight) {
		if err := w.post(ctx); err != nil {
			return err
		}
	}
	return nil
}

// docs encodes finals as the documents of the window's index.
func (w *windowWriter) docs(finals []aggregate.Final) ([]sink.Doc, error) {
	index := w.f.indices.Conns(time.Unix(w.start, 0))
	docs := make([]sink.Doc, len(finals))
	var arena []byte
	spans := make([][2]int, len(finals))
	for i := range finals {
		spans[i][0] = len(arena)
		var err error
		if arena, err = finals[i].AppendJSON(arena); err != nil {
			return nil, err
		}
		spans[i][1] = len(arena)
	}
	for i := range finals {
		docs[i] = sink.Doc{Index: index, ID: finals[i].ID(), Op: sink.OpIndex, Source: arena[spans[i][0]:spans[i][1]]}
	}
	return docs, nil
}

// post waits for the oldest chunk's write and delivers it. On an error it waits for the other writes too: nothing
// outlives the pass.
func (w *windowWriter) post(ctx context.Context) error {
	c := w.writing[0]
	w.writing = w.writing[1:]
	err := <-c.done
	if err == nil {
		err = w.complete(ctx, c)
	}
	if err != nil {
		w.abandon()
	}
	return err
}

// complete counts a chunk's durable finals and posts them.
func (w *windowWriter) complete(ctx context.Context, c *chunkWrite) error {
	f := w.f
	w.finals += len(c.sets)
	f.metrics.finals.Add(float64(len(c.sets)))
	if err := f.reached(stepFinalsWritten, w.start, c.index); err != nil {
		return err
	}
	if f.parts.Webhook == nil {
		return nil
	}
	ch := &webhook.Chunk{WindowStart: w.start, WindowEnd: w.end, Revision: w.rev, Index: c.index, Last: c.last, Sets: c.sets}
	if c.last && w.top != nil {
		ch.Top = w.top.Sets()
	}
	return w.deliver(ctx, ch)
}

// abandon waits for the chunks still being written, whatever their outcome: the window is redone by a later pass.
func (w *windowWriter) abandon() {
	for _, c := range w.writing {
		<-c.done
	}
	w.writing = nil
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
