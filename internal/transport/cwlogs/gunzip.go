package cwlogs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
)

// IsGzip reports whether p starts with the gzip magic bytes.
func IsGzip(p []byte) bool { return len(p) >= 2 && p[0] == 0x1f && p[1] == 0x8b }

type gunzipper struct {
	zr  *gzip.Reader // nil until the first payload
	br  bytes.Reader
	out cappedBuilder // gunzipString's output; empty between calls, so the pool keeps no payload alive
}

// gunzippers reuses readers (and their inflate windows, about 40 KiB each) across payloads and goroutines.
var gunzippers = sync.Pool{New: func() any { return new(gunzipper) }}

// openGzip takes a pooled gunzipper and starts it on payload; the caller puts it back in gunzippers. The errors are
// those of Gunzip: ErrNotGzip without the magic bytes, ErrCorrupt for a damaged header.
func openGzip(payload []byte) (*gunzipper, error) {
	if !IsGzip(payload) {
		return nil, newError("gunzip", ErrNotGzip, -1, describe(payload))
	}
	g := gunzippers.Get().(*gunzipper)
	g.br.Reset(payload)
	var err error
	if g.zr == nil {
		g.zr, err = gzip.NewReader(&g.br)
	} else {
		err = g.zr.Reset(&g.br)
	}
	if err != nil {
		gunzippers.Put(g)
		return nil, newError("gunzip", ErrCorrupt, -1, err.Error())
	}
	return g, nil
}

// Gunzip appends the decompressed payload to dst and returns it. It fails with an *Error wrapping ErrNotGzip when
// payload does not start with the gzip magic, ErrCorrupt when the stream is damaged, and ErrTooLarge as soon as
// more than limit bytes come out: dst never grows beyond len(dst)+limit+1, however the payload was made.
//
// When dst has too little room, the new buffer is sized from the gzip trailer, so a well-formed payload costs one
// allocation of exactly its decompressed size.
func Gunzip(dst, payload []byte, limit int) ([]byte, error) {
	g, err := openGzip(payload)
	if err != nil {
		return dst, err
	}
	defer gunzippers.Put(g)
	start := len(dst)
	if free := cap(dst) - len(dst); free <= sizeHint(payload, limit) {
		dst = grow(dst, sizeHint(payload, limit)+1)
	}
	for {
		if len(dst)-start > limit {
			return dst[:start], newError("gunzip", ErrTooLarge, -1, fmt.Sprintf("more than %d bytes", limit))
		}
		if len(dst) == cap(dst) {
			dst = grow(dst, min(cap(dst)-start, start+limit+1-len(dst)))
		}
		n, err := g.zr.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return dst[:start], newError("gunzip", ErrCorrupt, -1, err.Error())
		}
	}
	if len(dst)-start > limit {
		return dst[:start], newError("gunzip", ErrTooLarge, -1, fmt.Sprintf("more than %d bytes", limit))
	}
	return dst, nil
}

// gunzipString is Gunzip into a new string for Decode, whose envelope strings share it: the decompressor writes
// straight into a strings.Builder, which allocates without zeroing (Gunzip's make zeroes a buffer that is then
// overwritten in full), sized from the trailer so a well-formed payload costs one allocation of exactly its size.
// The same errors and the same bound on growth as Gunzip.
func gunzipString(payload []byte, limit int) (string, error) {
	g, err := openGzip(payload)
	if err != nil {
		return "", err
	}
	defer gunzippers.Put(g)
	w := &g.out
	defer func() { *w = cappedBuilder{} }()
	w.limit = limit
	w.sb.Grow(sizeHint(payload, limit) + 1)
	if _, err := g.zr.WriteTo(w); err != nil {
		if errors.Is(err, errOverLimit) {
			return "", newError("gunzip", ErrTooLarge, -1, fmt.Sprintf("more than %d bytes", limit))
		}
		return "", newError("gunzip", ErrCorrupt, -1, err.Error())
	}
	return w.sb.String(), nil
}

var errOverLimit = errors.New("over the limit")

// cappedBuilder takes at most limit bytes; like Gunzip's buffer, it grows to at most limit+1 and at most doubles.
type cappedBuilder struct {
	sb    strings.Builder
	limit int
}

func (c *cappedBuilder) Write(p []byte) (int, error) {
	n := c.sb.Len() + len(p)
	if n > c.limit {
		return 0, errOverLimit
	}
	if n > c.sb.Cap() {
		old, size := c.sb.String(), max(n, min(2*c.sb.Cap(), c.limit+1))
		c.sb = strings.Builder{} // a used Builder must not be copied; a zero one may be assigned
		c.sb.Grow(size)
		c.sb.WriteString(old)
	}
	return c.sb.Write(p)
}

// sizeHint guesses the decompressed size from the gzip trailer (ISIZE, the last member's size mod 2^32), bounded
// by the limit and by a generous compression ratio, so a forged trailer cannot make a tiny payload allocate much.
func sizeHint(payload []byte, limit int) int {
	hint := 4 << 10
	if len(payload) >= 18 {
		hint = int(binary.LittleEndian.Uint32(payload[len(payload)-4:]))
	}
	return max(min(hint, limit, 64*len(payload)), 512)
}

func grow(b []byte, n int) []byte {
	if n <= 0 {
		return b
	}
	nb := make([]byte, len(b), len(b)+n)
	copy(nb, b)
	return nb
}

// describe says what a payload that is not gzip looks like, so the error helps whoever reads it.
func describe(p []byte) string {
	if len(p) == 0 {
		return "empty payload"
	}
	head := p[:min(len(p), 16)]
	switch t := bytes.TrimLeft(p, " \t\r\n"); {
	case len(t) > 0 && t[0] == '{':
		return fmt.Sprintf("starts with %q: uncompressed JSON (a Lambda event or a decoded envelope?)", head)
	case looksBase64(t):
		return fmt.Sprintf("starts with %q: base64 text (decode it first, or use `consumer decode`)", head)
	case utf8.Valid(head):
		return fmt.Sprintf("starts with %q, not the gzip magic 1f 8b", head)
	default:
		return fmt.Sprintf("starts with % x, not the gzip magic 1f 8b", head)
	}
}

func looksBase64(p []byte) bool {
	if len(p) < 4 {
		return false
	}
	for _, c := range p[:min(len(p), 64)] {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' ||
			c == '-' || c == '_' || c == '=' || c == '\n' || c == '\r') {
			return false
		}
	}
	return true
}
