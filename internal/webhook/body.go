package webhook

import (
	"fmt"
	"strconv"

	"github.com/kinflow/kinflow/aggregate"
	"github.com/kinflow/kinflow/internal/jsonw"
)

// A Chunk is one POST: a slice of a window's finals, in ascending IP order.
type Chunk struct {
	WindowStart, WindowEnd int64 // Unix seconds, [start, end)
	Revision               int64 // 1 for the first delivery of a window, +1 per correction
	Index                  int   // 0-based chunk number within (window, revision)
	Last                   bool  // the window's last chunk
	Sets                   []aggregate.Final
	// Top is the window's top IPs by peers_count (see Top), sent in the rich format only; the finalizer fills it
	// in the last chunk.
	Top []aggregate.Final
}

// IdempotencyKey is the Idempotency-Key of a chunk, e.g. "kinflow-1700000400-r2-c0". It depends on nothing but
// its arguments, so every process and version names a chunk alike and a receiver can drop one it already has.
func IdempotencyKey(windowStart, revision int64, index int) string {
	b := make([]byte, 0, 40)
	b = append(b, "kinflow-"...)
	b = strconv.AppendInt(b, windowStart, 10)
	b = append(b, "-r"...)
	b = strconv.AppendInt(b, revision, 10)
	b = append(b, "-c"...)
	b = strconv.AppendInt(b, int64(index), 10)
	return string(b)
}

// Request returns what Deliver sends for ch: the URL with {bucket_time} replaced, the body and the
// Idempotency-Key. The same chunk gives the same bytes every time. A malformed chunk is an error wrapping
// ErrInvalidChunk.
func (c *Client) Request(ch *Chunk) (url string, body []byte, key string, err error) {
	if err := checkChunk(ch); err != nil {
		return "", nil, "", err
	}
	url = c.target(ch.WindowStart)
	if c.cfg.Format == FormatRich {
		body = appendRich(make([]byte, 0, richSize(ch)), ch)
	} else {
		body = appendCompat(make([]byte, 0, 2+28*len(ch.Sets)), ch)
	}
	return url, body, IdempotencyKey(ch.WindowStart, ch.Revision, ch.Index), nil
}

// checkChunk catches the caller's mistakes before they become a body a receiver would misread: sets of another
// window, out of order or repeated (the compat body is a JSON object, and duplicate keys are not JSON's business).
func checkChunk(ch *Chunk) error {
	if ch == nil {
		return fmt.Errorf("%w: nil", ErrInvalidChunk)
	}
	if ch.WindowEnd <= ch.WindowStart || ch.Revision < 1 || ch.Index < 0 {
		return fmt.Errorf("%w: window [%d, %d), revision %d, index %d: want start < end, revision >= 1, index >= 0",
			ErrInvalidChunk, ch.WindowStart, ch.WindowEnd, ch.Revision, ch.Index)
	}
	for i := range ch.Sets {
		f := &ch.Sets[i]
		switch {
		case !f.IP.IsValid():
			return fmt.Errorf("%w: set %d has no IP", ErrInvalidChunk, i)
		case f.WindowStart != ch.WindowStart || f.WindowEnd != ch.WindowEnd:
			return fmt.Errorf("%w: set %d (%v) is of window [%d, %d), the chunk of [%d, %d)",
				ErrInvalidChunk, i, f.IP, f.WindowStart, f.WindowEnd, ch.WindowStart, ch.WindowEnd)
		case i > 0 && ch.Sets[i-1].IP.Compare(f.IP) >= 0:
			return fmt.Errorf("%w: set %d (%v) does not follow %v in ascending IP order",
				ErrInvalidChunk, i, f.IP, ch.Sets[i-1].IP)
		}
	}
	for i := range ch.Top {
		if !ch.Top[i].IP.IsValid() {
			return fmt.Errorf("%w: top entry %d has no IP", ErrInvalidChunk, i)
		}
	}
	return nil
}

// richSize is a close upper bound of the rich body's length for IPv4 sets (IPv6 ones may grow it once), so the
// body is allocated once instead of doubled up from a guess: a set's fixed part with its dates and 20-digit
// counters takes under 500 bytes, a peer at most 18 ("255.255.255.255",), a port 6.
func richSize(ch *Chunk) int {
	n := 200 + 60*len(ch.Top)
	for i := range ch.Sets {
		n += 500 + 18*len(ch.Sets[i].Peers) + 6*len(ch.Sets[i].DstPorts)
	}
	return n
}

// appendCompat appends {"<ip>":<peers_count>,...}. Addresses need no escaping.
func appendCompat(dst []byte, ch *Chunk) []byte {
	dst = append(dst, '{')
	for i := range ch.Sets {
		f := &ch.Sets[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = f.IP.AppendTo(dst)
		dst = append(dst, `":`...)
		dst = strconv.AppendUint(dst, f.PeersCount, 10)
	}
	return append(dst, '}')
}

// appendRich appends the rich body by hand: a chunk holds thousands of sets with up to thousands of peers each,
// and encoding/json would first need a copy of them in tagged structs (BenchmarkBody compares the two).
func appendRich(dst []byte, ch *Chunk) []byte {
	dst = append(dst, `{"window":{"start":`...)
	dst = jsonw.AppendDateSeconds(dst, ch.WindowStart)
	dst = append(dst, `,"end":`...)
	dst = jsonw.AppendDateSeconds(dst, ch.WindowEnd)
	dst = append(dst, `},"revision":`...)
	dst = strconv.AppendInt(dst, ch.Revision, 10)
	dst = append(dst, `,"chunk":{"index":`...)
	dst = strconv.AppendInt(dst, int64(ch.Index), 10)
	dst = append(dst, `,"last":`...)
	dst = strconv.AppendBool(dst, ch.Last)
	dst = append(dst, `},"connection_sets":[`...)
	for i := range ch.Sets {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = ch.Sets[i].AppendSetJSON(dst)
	}
	dst = append(dst, ']')
	if len(ch.Top) > 0 {
		dst = append(dst, `,"top":[`...)
		for i := range ch.Top {
			f := &ch.Top[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"ip":"`...)
			dst = f.IP.AppendTo(dst)
			dst = append(dst, `","peers_count":`...)
			dst = strconv.AppendUint(dst, f.PeersCount, 10)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}
