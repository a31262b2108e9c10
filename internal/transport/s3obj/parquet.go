// parquet.go owns reading a Parquet object as lines: the names of its columns first, then each row's values
// separated by spaces, as AWS writes a flow-log text file. The flow-log decoding downstream then reads a Parquet
// file exactly as it reads a text one.

package s3obj

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// ReasonBadParquet is the reason of a Parquet object that cannot be read: not Parquet, corrupt, or a column kinflow
// cannot write as text (a nested or repeated one).
const ReasonBadParquet Reason = "bad_parquet"

// ErrBadParquet is the sentinel of ReasonBadParquet.
var ErrBadParquet = errors.New("unreadable parquet file")

func init() { sentinels[ReasonBadParquet] = ErrBadParquet }

// parquetBatch is how many rows one read decodes: a few hundred kilobytes of values.
const parquetBatch = 512

// ParquetLines reads a Parquet object as lines (see the file's comment): line 1 names the columns, AWS's flow-log
// names with '_' made '-' (account_id: account-id), and each row is a line of its values, '-' for a null. Offset is
// the row's index. It has the methods of Lines, so a reader of lines takes either.
type ParquetLines struct {
	rows    *parquet.Reader
	columns int
	batch   []parquet.Row
	n, next int // rows in batch, the next one to hand out
	line    []byte
	num     int64
	err     error
	done    bool
}

// NewParquetLines opens the Parquet object r of size bytes. Parquet keeps its schema at the end of the file, so it
// needs random access: the caller spools a downloaded object to a file first. An object that is no Parquet file,
// or holds nested columns, is an *Error with ReasonBadParquet.
func NewParquetLines(r io.ReaderAt, size int64) (pl *ParquetLines, err error) {
	defer func() {
		// The library panics on some malformed files; a bad object must be an error, never a crash.
		if p := recover(); p != nil {
			pl, err = nil, &Error{Reason: ReasonBadParquet, Op: "lines", Detail: fmt.Sprint(p), Line: -1, Offset: -1}
		}
	}()
	f, err := parquet.OpenFile(r, size)
	if err != nil {
		return nil, &Error{Reason: ReasonBadParquet, Op: "lines", Detail: err.Error(), Line: -1, Offset: -1, Err: err}
	}
	cols := f.Schema().Columns()
	names := make([]string, len(cols))
	for i, path := range cols {
		if len(path) != 1 {
			return nil, &Error{Reason: ReasonBadParquet, Op: "lines", Line: -1, Offset: -1,
				Detail: fmt.Sprintf("column %q is nested: flow-log files have flat columns", strings.Join(path, "."))}
		}
		names[i] = strings.ReplaceAll(path[0], "_", "-")
	}
	pl = &ParquetLines{rows: parquet.NewReader(f), columns: len(cols), batch: make([]parquet.Row, parquetBatch)}
	pl.line = append(pl.line[:0], strings.Join(names, " ")...)
	return pl, nil
}

// Next advances to the next line: the header first, then a row.
func (p *ParquetLines) Next() (ok bool) {
	if p.done {
		return false
	}
	if p.num == 0 {
		p.num = 1 // the header, made by NewParquetLines
		return true
	}
	defer func() {
		if r := recover(); r != nil {
			p.err, p.done, ok = &Error{Reason: ReasonBadParquet, Op: "lines", Detail: fmt.Sprint(r), Line: p.num + 1, Offset: -1}, true, false
		}
	}()
	if p.next == p.n {
		n, err := p.rows.ReadRows(p.batch)
		p.n, p.next = n, 0
		if n == 0 {
			p.done = true
			if err != nil && !errors.Is(err, io.EOF) {
				p.err = &Error{Reason: ReasonBadParquet, Op: "lines", Detail: err.Error(), Line: p.num + 1, Offset: -1, Err: err}
			}
			return false
		}
	}
	row := p.batch[p.next]
	p.next++
	p.num++
	p.line = p.line[:0]
	for i, v := range row {
		if i > 0 {
			p.line = append(p.line, ' ')
		}
		p.line = appendValue(p.line, v)
	}
	return true
}

// appendValue writes v as AWS's text files write it: numbers in decimal, strings as they are, '-' for a null.
func appendValue(dst []byte, v parquet.Value) []byte {
	switch {
	case v.IsNull():
		return append(dst, '-')
	case v.Kind() == parquet.Int32:
		return strconv.AppendInt(dst, int64(v.Int32()), 10)
	case v.Kind() == parquet.Int64:
		return strconv.AppendInt(dst, v.Int64(), 10)
	case v.Kind() == parquet.ByteArray || v.Kind() == parquet.FixedLenByteArray:
		b := v.ByteArray()
		if len(b) == 0 {
			return append(dst, '-')
		}
		return append(dst, b...)
	}
	return append(dst, v.String()...)
}

// Bytes returns the current line, valid until the next Next.
func (p *ParquetLines) Bytes() []byte { return p.line }

// Number returns the current line's number: 1 for the header, row index + 2 for a row.
func (p *ParquetLines) Number() int64 { return p.num }

// Offset returns the current row's index (0 for the header and the first row alike).
func (p *ParquetLines) Offset() int64 { return max(p.num-2, 0) }

// LineErr is always nil: a Parquet row has no length to exceed.
func (p *ParquetLines) LineErr() error { return nil }

// Err returns the error that ended the reading, nil at the end of the file.
func (p *ParquetLines) Err() error { return p.err }

// Close releases the reader.
func (p *ParquetLines) Close() error { return p.rows.Close() }
