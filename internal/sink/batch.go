package sink

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/kinflow/kinflow/internal/jsonw"
)

// An item is one document on its way: its encoded action and source lines, and what to dead-letter it with.
type item struct {
	t          *ticket
	buf        []byte // buf[off:end] is the action line + source line, each ending in '\n'
	off, end   int
	index, id  string
	op         Op
	origin     Origin   // Raw points into sink-owned memory
	deadLetter bool     // the item is itself a dead letter: a permanent refusal fails the write
	outcome    *Outcome // the caller's Doc.Outcome (carried over to the dead letter that replaces a refused doc)
}

func (it *item) line() []byte { return it.buf[it.off:it.end] }

// A chunk is the encoded documents of one Write, at most FlushDocs of them; last marks the Write's final chunk.
type chunk struct {
	items []item
	last  bool
}

// encode copies docs into one sink-owned buffer as bulk lines. A source that spans lines is compacted; one that is
// not even JSON becomes a dead letter here, since sending it would break the request's framing.
func (s *BulkSink) encode(t *ticket, docs []Doc) []item {
	size, rawSize := 0, 0
	for i := range docs {
		d := &docs[i]
		size += len(`{"create":{"_index":"","_id":""}}`) + 2 + len(d.Index) + len(d.ID) + len(d.Source)
		rawSize += len(d.Origin.Raw)
	}
	buf := make([]byte, 0, size)
	var raws []byte
	if rawSize > 0 {
		raws = make([]byte, 0, rawSize)
	}
	items := make([]item, len(docs))
	for i := range docs {
		d := &docs[i]
		start := len(buf)
		var err error
		if buf, err = appendDoc(buf, d); err != nil {
			buf = buf[:start]
			items[i] = s.invalidSource(t, d, err)
			continue
		}
		o := d.Origin
		if len(o.Raw) > 0 {
			rs := len(raws)
			raws = append(raws, o.Raw...)
			o.Raw = raws[rs:len(raws):len(raws)]
		}
		// buf is set below: append may still move it.
		items[i] = item{t: t, off: start, end: len(buf), index: d.Index, id: d.ID, op: d.Op, origin: o,
			deadLetter: d.Index == s.dlIndex, outcome: d.Outcome}
	}
	// Every item encoded into buf refers to its final array, so that consecutive items can be sent as one slice of
	// it (see contiguous); a dead letter made here has a buffer of its own already.
	for i := range items {
		if items[i].buf == nil {
			items[i].buf = buf
		}
	}
	return items
}

// appendDoc appends d's action and source lines to buf, compacting a source that spans lines. It fails, leaving
// garbage after the action line, when the source is empty or not JSON.
func appendDoc(buf []byte, d *Doc) ([]byte, error) {
	buf = appendAction(buf, d.Op, d.Index, d.ID)
	if len(d.Source) > 0 && bytes.IndexByte(d.Source, '\n') < 0 {
		buf = append(buf, d.Source...)
		return append(buf, '\n'), nil
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, d.Source); err != nil {
		return buf, err
	}
	if compact.Len() == 0 {
		return buf, errors.New("empty source")
	}
	buf = append(buf, compact.Bytes()...)
	return append(buf, '\n'), nil
}

// invalidSource returns the dead letter of a document whose source cannot be sent, in its place.
func (s *BulkSink) invalidSource(t *ticket, d *Doc, err error) item {
	dl := newDeadLetter(s.dlIndex, d.Origin, StageIndex, "invalid_json", fmt.Errorf("source of %s/%s: %w", d.Index, d.ID, err),
		s.now(), d.Index, d.ID)
	s.m.deadLettered.WithLabelValues(family(d.Index), "invalid_json").Inc()
	it := s.encodeOne(t, dl, true)
	it.outcome = d.Outcome
	return it
}

// encodeOne encodes a single document into its own buffer (dead letters, off the hot path).
func (s *BulkSink) encodeOne(t *ticket, d Doc, deadLetter bool) item {
	buf := appendAction(make([]byte, 0, 64+len(d.Source)), d.Op, d.Index, d.ID)
	buf = append(buf, d.Source...)
	buf = append(buf, '\n')
	o := d.Origin
	o.Raw = bytes.Clone(o.Raw)
	return item{t: t, buf: buf, off: 0, end: len(buf), index: d.Index, id: d.ID, op: d.Op, origin: o, deadLetter: deadLetter}
}

func appendAction(b []byte, op Op, index, id string) []byte {
	if op == OpIndex {
		b = append(b, `{"index":{"_index":`...)
	} else {
		b = append(b, `{"create":{"_index":`...)
	}
	b = jsonw.AppendString(b, index)
	b = append(b, `,"_id":`...)
	b = jsonw.AppendString(b, id)
	return append(b, "}}\n"...)
}

// batcher cuts the incoming chunks into bulk requests.
func (s *BulkSink) batcher() {
	defer s.wg.Done()
	defer close(s.work)
	var cur []*item
	curBytes := 0
	flush := func() {
		if len(cur) > 0 {
			s.work <- cur // blocks while every worker is busy: backpressure
		}
		cur, curBytes = nil, 0
	}
	for c := range s.in {
		for i := range c.items {
			if cur == nil {
				cur = make([]*item, 0, min(s.cfg.FlushDocs, 1024))
			}
			cur = append(cur, &c.items[i])
			curBytes += c.items[i].end - c.items[i].off
			if curBytes >= s.cfg.FlushBytes || len(cur) >= s.cfg.FlushDocs {
				flush()
			}
		}
		if c.last {
			flush()
		}
	}
	flush()
}

// contiguous returns the items' lines as one slice of their shared buffer when they lie back to back in it (a
// batch cut from one Write, sent the first time), saving a copy of the request body; otherwise nil.
func contiguous(items []*item) []byte {
	first := items[0]
	prev := first
	for _, it := range items[1:] {
		if it.off != prev.end || len(it.buf) == 0 || &it.buf[0] != &first.buf[0] {
			return nil
		}
		prev = it
	}
	return first.buf[first.off:prev.end]
}
