package s3obj

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/kinflow/kinflow/internal/retry"
)

// flowRow is a row of a flow-log Parquet file with the columns AWS writes for the default format, typed as AWS's
// documentation gives them (int32 ports and protocol, int64 counters and times, strings for the rest).
type flowRow struct {
	Version     int32   `parquet:"version"`
	AccountID   *string `parquet:"account_id,optional"`
	InterfaceID string  `parquet:"interface_id"`
	Srcaddr     *string `parquet:"srcaddr,optional"`
	Dstaddr     *string `parquet:"dstaddr,optional"`
	Srcport     *int32  `parquet:"srcport,optional"`
	Dstport     *int32  `parquet:"dstport,optional"`
	Protocol    *int32  `parquet:"protocol,optional"`
	Packets     *int64  `parquet:"packets,optional"`
	Bytes       *int64  `parquet:"bytes,optional"`
	Start       int64   `parquet:"start"`
	End         int64   `parquet:"end"`
	Action      *string `parquet:"action,optional"`
	LogStatus   string  `parquet:"log_status"`
}

// ParquetFlowLog writes rows as a Parquet file; lines are the text lines AWS would have written for them.
func parquetFile(tb testing.TB, rows []flowRow) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[flowRow](&buf)
	if _, err := w.Write(rows); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func ptr[T any](v T) *T { return &v }

// TestParquetLines reads a Parquet flow-log file as the text file AWS would have written: the header of its column
// names with '-', then one line per row, '-' for a null (a NODATA record has no addresses).
func TestParquetLines(t *testing.T) {
	rows := []flowRow{
		{2, ptr("123456789010"), "eni-1235b8ca123456789", ptr("172.31.16.139"), ptr("172.31.16.21"), ptr(int32(20641)), ptr(int32(22)),
			ptr(int32(6)), ptr(int64(20)), ptr(int64(4249)), 1418530010, 1418530070, ptr("ACCEPT"), "OK"},
		{2, ptr("123456789010"), "eni-1235b8ca123456789", nil, nil, nil, nil, nil, nil, nil, 1431280876, 1431280934, nil, "NODATA"},
	}
	file := parquetFile(t, rows)
	pl, err := NewParquetLines(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	var got []string
	for pl.Next() {
		got = append(got, string(pl.Bytes()))
		if pl.Number() != int64(len(got)) {
			t.Errorf("line %d numbered %d", len(got), pl.Number())
		}
	}
	if pl.Err() != nil {
		t.Fatal(pl.Err())
	}
	want := []string{
		"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status",
		"2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
		"2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A file that is no Parquet, or a truncated one, is an error with its reason, never a panic.
func TestParquetLinesBad(t *testing.T) {
	good := parquetFile(t, []flowRow{{Version: 2, InterfaceID: "eni-1", Start: 1, End: 2, LogStatus: "OK"}})
	for name, b := range map[string][]byte{"empty": nil, "text": []byte("version account-id\n2 1\n"), "truncated": good[:len(good)/2],
		"no footer": good[:len(good)-8]} {
		_, err := NewParquetLines(bytes.NewReader(b), int64(len(b)))
		var e *Error
		if !errors.As(err, &e) || e.Reason != ReasonBadParquet || !errors.Is(err, ErrBadParquet) || !retry.IsPermanent(err) {
			t.Errorf("%s: %v, want a permanent bad_parquet error", name, err)
		}
	}
}

// FuzzParquetLines: any bytes either fail to open with bad_parquet or read to their end (or to a bad_parquet
// error), never a panic.
func FuzzParquetLines(f *testing.F) {
	f.Add(parquetFile(f, []flowRow{{Version: 2, InterfaceID: "eni-1", Start: 1, End: 2, LogStatus: "OK", Srcaddr: ptr("10.0.0.1")}}))
	f.Add([]byte("PAR1PAR1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pl, err := NewParquetLines(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			if !errors.Is(err, ErrBadParquet) {
				t.Fatalf("open: %v, want bad_parquet", err)
			}
			return
		}
		for pl.Next() {
		}
		if err := pl.Err(); err != nil && !errors.Is(err, ErrBadParquet) {
			t.Fatalf("read: %v, want bad_parquet", err)
		}
	})
}
