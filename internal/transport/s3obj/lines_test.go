package s3obj

import (
	"bytes"
	stdgzip "compress/gzip"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type gotLine struct {
	Num, Off int64
	Text     string
	TooLong  bool
}

// readAll reads every line of r with cfg, and the error that ended it.
func readAll(tb testing.TB, l *Lines) ([]gotLine, error) {
	tb.Helper()
	var out []gotLine
	for l.Next() {
		g := gotLine{Num: l.Number(), Off: l.Offset(), Text: string(l.Bytes())}
		if err := l.LineErr(); err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Reason != ReasonLineTooLong || e.Line != l.Number() {
				tb.Fatalf("line error %v", err)
			}
			g.TooLong = true
		}
		out = append(out, g)
	}
	return out, l.Err()
}

func gzipped(tb testing.TB, members ...string) []byte {
	tb.Helper()
	var b bytes.Buffer
	for _, m := range members {
		zw := stdgzip.NewWriter(&b)
		if _, err := zw.Write([]byte(m)); err != nil {
			tb.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			tb.Fatal(err)
		}
	}
	return b.Bytes()
}

func smallConfig() Config {
	cfg := DefaultConfig()
	cfg.MaxLineBytes = MinLineBytes
	cfg.ReadBufferBytes = MinReadBufferBytes
	return cfg
}

func TestLines(t *testing.T) {
	long := strings.Repeat("x", MinLineBytes)
	tooLong := strings.Repeat("y", 10_000) // longer than the buffer too
	text := "version account\r\n2 a\n\n" + long + "\n" + tooLong + "\r\nafter\nlast"
	want := []gotLine{
		{1, 0, "version account", false},
		{2, 17, "2 a", false},
		{3, 21, "", false},
		{4, 22, long, false},
		{5, 23 + int64(len(long)), "", true},
		{6, 25 + int64(len(long)+len(tooLong)), "after", false},
		{7, 31 + int64(len(long)+len(tooLong)), "last", false},
	}
	for name, input := range map[string][]byte{
		"plain":        []byte(text),
		"gzip":         gzipped(t, text),
		"multi-member": gzipped(t, text[:30], text[30:5000], text[5000:]),
	} {
		t.Run(name, func(t *testing.T) {
			l, err := NewLines(bytes.NewReader(input), smallConfig())
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(t, l)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			if l.Gzip() != (name != "plain") {
				t.Errorf("Gzip() = %v", l.Gzip())
			}
		})
	}
}

func TestLinesEdges(t *testing.T) {
	for name, tc := range map[string]struct {
		in   string
		want []string
	}{
		"empty":            {"", nil},
		"one newline":      {"\n", []string{""}},
		"no final newline": {"a\nb", []string{"a", "b"}},
		"final newline":    {"a\nb\n", []string{"a", "b"}},
		"lone cr kept":     {"a\rb\r\n", []string{"a\rb"}},
		"one byte":         {"\x1f", []string{"\x1f"}},
	} {
		t.Run(name, func(t *testing.T) {
			l, err := NewLines(strings.NewReader(tc.in), DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for l.Next() {
				got = append(got, string(l.Bytes()))
			}
			if l.Err() != nil {
				t.Fatal(l.Err())
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestLinesBadGzip(t *testing.T) {
	good := gzipped(t, "a\nb\nc\n"+strings.Repeat("flow log line\n", 5000))
	for name, tc := range map[string]struct {
		in       []byte
		minLines int
	}{
		"truncated":       {good[:len(good)/2], 3},
		"bad checksum":    {append(append([]byte{}, good[:len(good)-8]...), 0, 0, 0, 0, 0, 0, 0, 0), 5000},
		"bad header":      {[]byte{0x1f, 0x8b, 0, 0, 0, 0, 0, 0, 0, 0}, 0},
		"trailing junk":   {append(append([]byte{}, good...), "junk"...), 5003},
		"corrupt deflate": {append(append([]byte{}, good[:20]...), bytes.Repeat([]byte{0xff}, 100)...), 0},
	} {
		t.Run(name, func(t *testing.T) {
			l, err := NewLines(bytes.NewReader(tc.in), DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(t, l)
			var e *Error
			if !errors.As(err, &e) || e.Reason != ReasonBadGzip || !errors.Is(err, ErrBadGzip) || !e.Permanent() {
				t.Fatalf("got %v, want a bad_gzip *Error", err)
			}
			if len(got) < tc.minLines || e.Line != int64(len(got))+1 {
				t.Errorf("%d lines, error at line %d: %v", len(got), e.Line, err)
			}
		})
	}
}

// A failing source is the source's error, not corrupt gzip: a broken download is to be retried.
func TestLinesSourceError(t *testing.T) {
	data := gzipped(t, strings.Repeat("flow log line\n", 50_000))
	boom := errors.New("connection reset")
	l, err := NewLines(io.MultiReader(bytes.NewReader(data[:len(data)/2]), errReader{boom}), DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	_, err = readAll(t, l)
	var e *Error
	if !errors.As(err, &e) || e.Reason != ReasonTransient || !errors.Is(err, boom) || e.Permanent() {
		t.Fatalf("got %v, want a transient *Error wrapping the source's", err)
	}
	// The source's own *Error keeps its reason.
	changed := &Error{Reason: ReasonObjectChanged, Op: "read", Line: -1, Offset: 10}
	l.Reset(io.MultiReader(bytes.NewReader(data[:len(data)/2]), errReader{changed}))
	_, err = readAll(t, l)
	if !errors.As(err, &e) || e.Reason != ReasonObjectChanged || e.Line < 1 {
		t.Fatalf("got %v, want object_changed with a line", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// One Lines reads many objects without allocating once its buffers have grown.
func TestLinesResetAllocs(t *testing.T) {
	text := strings.Repeat("2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1700000000 1700000060 ACCEPT OK\n", 2000) +
		strings.Repeat("z", 100_000) + "\n"
	objects := [][]byte{gzipped(t, text), []byte(text), gzipped(t, text[:5000], text[5000:])}
	l, err := NewLines(nil, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var r bytes.Reader
	run := func() {
		for _, o := range objects {
			r.Reset(o)
			l.Reset(&r)
			for l.Next() {
			}
			if l.Err() != nil {
				t.Fatal(l.Err())
			}
		}
	}
	run()
	if n := testing.AllocsPerRun(20, run); n != 0 {
		t.Errorf("%v allocations per three objects, want 0", n)
	}
}

// FuzzLines checks, for any input read plain and gzip'd, that lines are numbered in order, that each line is the
// input at its offset without its line ending, that only lines over the limit are reported too long, and that a
// well-formed input is read to its end.
func FuzzLines(f *testing.F) {
	for _, path := range fixtures(f) {
		if b, err := os.ReadFile(path); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("a\r\nb\n\nc"))
	f.Add([]byte(strings.Repeat("x", 2000) + "\ny\r\n"))
	f.Add([]byte(strings.Repeat("x", MinLineBytes) + "\r\n" + strings.Repeat("x", MinLineBytes+1) + "\n"))
	f.Add([]byte{0x1f, 0x8b, 8, 0})
	cfg := smallConfig()
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(in []byte, mustSucceed bool) {
			l, err := NewLines(bytes.NewReader(in), cfg)
			if err != nil {
				t.Fatal(err)
			}
			var n, off int64
			for l.Next() {
				n++
				if l.Number() != n || l.Offset() != off {
					t.Fatalf("line %d at %d, want line %d at %d", l.Number(), l.Offset(), n, off)
				}
				next := int64(len(data))
				if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
					next = off + int64(i) + 1
				}
				want := bytes.TrimSuffix(bytes.TrimSuffix(data[off:next], []byte("\n")), []byte("\r"))
				if l.LineErr() == nil && !bytes.Equal(l.Bytes(), want) {
					t.Fatalf("line %d is %q, want %q", n, l.Bytes(), want)
				}
				if (l.LineErr() != nil) != (len(want) > cfg.MaxLineBytes) {
					t.Fatalf("line %d of %d bytes: LineErr %v", n, len(want), l.LineErr())
				}
				off = next
			}
			if mustSucceed && (l.Err() != nil || off != int64(len(data))) {
				t.Fatalf("stopped at %d of %d: %v", off, len(data), l.Err())
			}
		}
		check(gzipped(t, string(data)), true)
		gz := len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b
		if !gz {
			check(data, true)
		} else {
			l, _ := NewLines(bytes.NewReader(data), cfg) // must only not panic
			for l.Next() {
			}
		}
	})
}
