package cwlogs

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"testing"
)

// benchEnvelope writes n events as CloudWatch Logs does (compact, key order id, timestamp, message). With escaped,
// every message is an application log line full of escapes, which the compact fast path leaves to the general
// reader.
func benchEnvelope(n int, escaped bool) []byte {
	b := []byte(`{"messageType":"DATA_MESSAGE","owner":"123456789010","logGroup":"/vpc/flowlogs/prod",` +
		`"logStream":"eni-1235b8ca123456789-all","subscriptionFilters":["kinflow"],"logEvents":[`)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		msg := fmt.Sprintf("2 123456789010 eni-1235b8ca123456789 172.31.%d.%d 10.0.%d.%d %d 443 6 %d %d 1700000000 1700000060 ACCEPT OK",
			i%250, i%7+1, i%13, i%200+1, 32768+i, i%40+1, 60*(i%40+1))
		if escaped {
			msg = fmt.Sprintf(`{\"level\":\"info\",\"msg\":\"caf\u00e9 %d\",\"path\":\"\/api\/v1\/items\"}\n`, i)
		}
		b = fmt.Appendf(b, `{"id":"3195310660696698337880902507980421114328961542429%07d","timestamp":%d,"message":"%s"}`,
			i, 1700000000000+int64(i), msg)
	}
	return append(b, "]}"...)
}

// BenchmarkDecode measures the decoder beside the plain reference (the standard library's gzip and encoding/json)
// on records of 500 events as AWS writes them, the same with escapes in every message, and what moto delivered.
func BenchmarkDecode(b *testing.B) {
	moto := read(b, "moto-default.gz")
	motoJSON, err := Gunzip(nil, moto, 1<<24)
	if err != nil {
		b.Fatal(err)
	}
	corpora := []struct {
		name string
		json []byte
	}{
		{"aws-500", benchEnvelope(500, false)},
		{"escaped-500", benchEnvelope(500, true)},
		{"moto", motoJSON},
	}
	for _, c := range corpora {
		payload := gz(b, c.json)
		for _, m := range []struct {
			name   string
			decode func(*Decoder, *Envelope) error
		}{
			{"Decode", func(d *Decoder, env *Envelope) error { return d.Decode(env, payload) }},
			{"DecodeJSON", func(d *Decoder, env *Envelope) error { return d.DecodeJSON(env, c.json) }},
		} {
			b.Run(c.name+"/"+m.name, func(b *testing.B) {
				d := newDecoder(b, DefaultConfig())
				var env Envelope
				b.SetBytes(int64(len(c.json)))
				b.ReportAllocs()
				for b.Loop() {
					if err := m.decode(d, &env); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(c.name+"/plain", func(b *testing.B) {
			b.SetBytes(int64(len(c.json)))
			b.ReportAllocs()
			for b.Loop() {
				zr, err := gzip.NewReader(bytes.NewReader(payload))
				if err != nil {
					b.Fatal(err)
				}
				raw, err := io.ReadAll(zr)
				if err != nil {
					b.Fatal(err)
				}
				var env stdEnvelope
				if err := json.Unmarshal(raw, &env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
