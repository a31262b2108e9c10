// lines.go owns reading an object as lines: gzip detection by magic bytes, streaming decompression, line numbers
// and offsets, the bound on a line's length, and resuming at a line.

package s3obj

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
)

// Lines reads an object line by line, gunzipping it when it starts with the gzip magic (all members of a
// multi-member file), otherwise as plain text. It holds at most one line (up to Config.MaxLineBytes) and its
// buffers, never the object, and Reset lets one Lines read many objects without allocating.
//
//	for lines.Next() {
//		if err := lines.LineErr(); err != nil {
//			continue // one line over the limit: count it, the reader has moved past it
//		}
//		handle(lines.Bytes(), lines.Number())
//	}
//	if err := lines.Err(); err != nil { ... } // bad_gzip, or the source's error
//
// A Lines is not safe for concurrent use.
type Lines struct {
	cfg Config
	src sourceReader  // the object, recording its own errors so they are not taken for corrupt gzip
	raw *bufio.Reader // over src: peeks the magic bytes, and is the line buffer of plain text
	zr  *gzip.Reader  // nil until the first gzip object
	zb  *bufio.Reader // over zr: the line buffer of gzip'd text
	in  *bufio.Reader // raw or zb

	started, gz, done bool
	long              []byte // a line longer than the buffer, assembled; kept across lines and objects
	line              []byte
	num, off, next    int64 // current line number and offset, offset of the next line
	lineErr           *Error
	err               error
}

// NewLines returns a reader of r, or every problem of cfg (only MaxLineBytes and ReadBufferBytes matter to it).
func NewLines(r io.Reader, cfg Config) (*Lines, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &Lines{cfg: cfg}
	l.raw = bufio.NewReaderSize(&l.src, cfg.ReadBufferBytes)
	l.Reset(r)
	return l, nil
}

// Reset starts l on another object, keeping its buffers and gzip state.
func (l *Lines) Reset(r io.Reader) {
	l.src = sourceReader{r: r}
	l.raw.Reset(&l.src)
	l.in = nil
	l.started, l.gz, l.done = false, false, false
	l.long, l.line = l.long[:0], nil
	l.num, l.off, l.next = 0, 0, 0
	l.lineErr, l.err = nil, nil
}

// Next advances to the next line and reports whether there is one, which may be a line that is too long (see
// LineErr). It returns false at the end of the object or on an error that ends it (see Err).
func (l *Lines) Next() bool {
	l.line, l.lineErr = nil, nil
	if !l.started && !l.start() {
		return false
	}
	return !l.done && l.readLine()
}

// Bytes returns the current line without its line ending (\n or \r\n); nil for a line that is too long. It is
// valid until the next call of Next or Reset.
func (l *Lines) Bytes() []byte { return l.line }

// Number returns the current line's 1-based number.
func (l *Lines) Number() int64 { return l.num }

// Offset returns the byte offset of the current line's start in the decompressed stream.
func (l *Lines) Offset() int64 { return l.off }

// LineErr returns an *Error with ReasonLineTooLong when the current line is longer than Config.MaxLineBytes, nil
// otherwise. The reader has already moved past the line; reading goes on.
func (l *Lines) LineErr() error {
	if l.lineErr == nil {
		return nil
	}
	return l.lineErr
}

// Err returns the error that ended the reading, nil at the end of the object: an *Error with ReasonBadGzip for a
// corrupt or truncated gzip stream, or with the source's reason (ReasonTransient for an error not of this
// package) when reading the object failed. Line is the line that was being read.
func (l *Lines) Err() error { return l.err }

// Gzip reports whether the object is gzip'd; known after the first Next.
func (l *Lines) Gzip() bool { return l.gz }

func (l *Lines) start() bool {
	l.started = true
	magic, err := l.raw.Peek(2)
	if err != nil && err != io.EOF {
		return l.fail(err)
	}
	if len(magic) < 2 || magic[0] != 0x1f || magic[1] != 0x8b {
		l.in = l.raw
		return true
	}
	l.gz = true
	if l.zr == nil {
		l.zr, err = gzip.NewReader(l.raw)
		l.zb = bufio.NewReaderSize(l.zr, l.cfg.ReadBufferBytes)
	} else {
		err = l.zr.Reset(l.raw)
		l.zb.Reset(l.zr)
	}
	if err != nil {
		return l.fail(err)
	}
	l.in = l.zb
	return true
}

// readLine reads one line into l.line (or l.lineErr). A line over the limit is read to its end and dropped, so
// memory stays bounded by MaxLineBytes whatever the input.
func (l *Lines) readLine() bool {
	l.long = l.long[:0]
	total, tooLong := 0, false
	for {
		frag, err := l.in.ReadSlice('\n')
		total += len(frag)
		if err == bufio.ErrBufferFull {
			// +2: the \r\n that do not count against the limit
			if !tooLong && len(l.long)+len(frag) > l.cfg.MaxLineBytes+2 {
				tooLong, l.long = true, l.long[:0]
			}
			if !tooLong {
				l.long = append(l.long, frag...)
			}
			continue
		}
		if err != nil && err != io.EOF {
			return l.fail(err)
		}
		if err == io.EOF && total == 0 {
			l.done = true
			return false
		}
		l.off, l.next = l.next, l.next+int64(total)
		l.num++
		line := frag
		if len(l.long) > 0 {
			l.long = append(l.long, frag...)
			line = l.long
		}
		line = bytes.TrimSuffix(line, []byte{'\n'})
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if tooLong || len(line) > l.cfg.MaxLineBytes {
			e := newError("lines", ReasonLineTooLong, fmt.Sprintf("more than %d bytes", l.cfg.MaxLineBytes))
			e.Line, e.Offset = l.num, l.off
			l.lineErr, l.line = e, nil
		} else {
			l.line = line
		}
		// At io.EOF this is a last line without a newline: Next yields it, and the next call ends.
		l.done = err == io.EOF
		return true
	}
}

// fail ends the reading with err, classified: the source's own failure keeps its reason (or is transient), any
// other failure is the gzip stream's.
func (l *Lines) fail(err error) bool {
	l.done = true
	var e *Error
	switch {
	case l.src.err != nil && errors.As(l.src.err, &e):
		c := *e
		c.Op, c.Line, c.Offset = "lines", l.num+1, l.next
		l.err = &c
	case l.src.err != nil:
		c := newError("lines", ReasonTransient, "reading the object")
		c.Line, c.Offset, c.Err = l.num+1, l.next, l.src.err
		l.err = c
	default:
		c := newError("lines", ReasonBadGzip, "")
		c.Line, c.Offset, c.Err = l.num+1, l.next, err
		l.err = c
	}
	l.line, l.lineErr = nil, nil
	return false
}

// sourceReader remembers the error of the object's reader, which gzip would otherwise report as its own.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}
