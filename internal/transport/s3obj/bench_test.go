package s3obj

import (
	"bufio"
	"bytes"
	stdgzip "compress/gzip"
	"testing"
)

// BenchmarkLines reads a 100,000-line gzip'd flow log object with Lines (reused across objects with Reset) beside
// the plain reference: the standard library's gzip under a bufio.Scanner, new per object as is usual.
func BenchmarkLines(b *testing.B) {
	data, text := flowLogObject(b, 100_000)
	b.Run("Lines", func(b *testing.B) {
		l, err := NewLines(nil, DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		var r bytes.Reader
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		for b.Loop() {
			r.Reset(data)
			l.Reset(&r)
			for l.Next() {
			}
			if l.Err() != nil {
				b.Fatal(l.Err())
			}
		}
	})
	b.Run("plain", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		for b.Loop() {
			zr, err := stdgzip.NewReader(bytes.NewReader(data))
			if err != nil {
				b.Fatal(err)
			}
			sc := bufio.NewScanner(zr)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
			}
			if sc.Err() != nil {
				b.Fatal(sc.Err())
			}
		}
	})
}

func BenchmarkRoute(b *testing.B) {
	r := newRouter(b, DefaultConfig())
	const key = "prod/AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/05/01/123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20240501T1005Z_fe123456.log.gz"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Route("bucket", key); err != nil {
			b.Fatal(err)
		}
	}
}
