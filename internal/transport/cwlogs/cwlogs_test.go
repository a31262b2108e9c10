package cwlogs

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kinflow/kinflow/internal/testing/flowgen"
	"github.com/kinflow/kinflow/internal/testing/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// gz compresses p as CloudWatch Logs does.
func gz(tb testing.TB, p []byte) []byte {
	tb.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(p); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

func read(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func newDecoder(tb testing.TB, cfg Config) *Decoder {
	tb.Helper()
	d, err := NewDecoder(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

type goldenEnvelope struct {
	MessageType         string
	Owner               string
	LogGroup            string
	LogStream           string
	SubscriptionFilters []string
	LogEvents           []LogEvent
	Error               string `json:",omitempty"`
}

func render(tb testing.TB, env *Envelope, err error) []byte {
	tb.Helper()
	g := goldenEnvelope{MessageType: env.MessageType.String(), Owner: env.Owner, LogGroup: env.LogGroup,
		LogStream: env.LogStream, SubscriptionFilters: env.SubscriptionFilters, LogEvents: env.LogEvents}
	if err != nil {
		g = goldenEnvelope{Error: err.Error()}
	}
	b, merr := json.MarshalIndent(g, "", "  ")
	if merr != nil {
		tb.Fatal(merr)
	}
	return append(b, '\n')
}

// TestGolden decodes every fixture: the envelopes as CloudWatch Logs documents them (gzip'd here), and the raw
// records moto's subscription delivered to Kinesis (saved by the flowformats integration test).
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.json")
	gzs, _ := filepath.Glob("testdata/*.gz")
	files = append(files, gzs...)
	if len(files) < 6 {
		t.Fatalf("only %d fixtures in testdata", len(files))
	}
	for _, path := range files {
		name := filepath.Base(path)
		if strings.HasSuffix(name, ".golden.json") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			payload := read(t, name)
			if !IsGzip(payload) {
				payload = gz(t, payload)
			}
			d := newDecoder(t, DefaultConfig())
			var env Envelope
			err := d.Decode(&env, payload)
			golden.File(t, *update, filepath.Join("testdata", strings.TrimSuffix(strings.TrimSuffix(name, ".gz"), ".json")+".golden.json"),
				render(t, &env, err))
			if err == nil {
				// The same envelope, already decompressed, decodes the same.
				raw, _ := Gunzip(nil, payload, 1<<24)
				var again Envelope
				if err := d.DecodeJSON(&again, raw); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(env, again); diff != "" {
					t.Errorf("DecodeJSON differs from Decode:\n%s", diff)
				}
			}
		})
	}
}

func TestMessageTypes(t *testing.T) {
	d := newDecoder(t, DefaultConfig())
	var env Envelope
	if err := d.Decode(&env, gz(t, read(t, "aws-control.json"))); err != nil {
		t.Fatal(err)
	}
	if !env.IsControl() || len(env.LogEvents) != 0 {
		t.Errorf("control message: %+v", env)
	}
	if err := d.Decode(&env, gz(t, read(t, "aws-data.json"))); err != nil {
		t.Fatal(err)
	}
	if env.IsControl() || env.MessageType != DataMessage || len(env.LogEvents) != 3 {
		t.Errorf("data message: %+v", env)
	}
	err := d.Decode(&env, gz(t, read(t, "unknown-type.json")))
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrUnknownMessageType) || !e.Permanent() || e.LogGroup != "/vpc/flowlogs/prod" {
		t.Errorf("unknown message type: %v", err)
	}
	want := Stats{Records: 3, DataMessages: 1, ControlMessages: 1, Events: 3, Errors: 1}
	got := d.Stats()
	got.CompressedBytes, got.DecompressedBytes = 0, 0
	if got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
}

func TestErrors(t *testing.T) {
	valid := read(t, "aws-data.json")
	corrupt := gz(t, valid)
	corrupt[len(corrupt)/2] ^= 0xff
	truncated := gz(t, valid)
	truncated = truncated[:len(truncated)-10]
	tests := []struct {
		name    string
		payload []byte
		want    error
		detail  string
	}{
		{"empty", nil, ErrNotGzip, "empty payload"},
		{"plain JSON", valid, ErrNotGzip, "uncompressed JSON"},
		{"base64", []byte(base64.StdEncoding.EncodeToString(gz(t, valid))), ErrNotGzip, "base64 text"},
		{"binary", []byte{0x00, 0x01, 0xfe}, ErrNotGzip, "00 01 fe"},
		{"corrupt", corrupt, ErrCorrupt, ""},
		{"truncated", truncated, ErrCorrupt, ""},
		{"bad header", []byte{0x1f, 0x8b, 0x07, 0x00}, ErrCorrupt, ""},
		{"not JSON", gz(t, []byte("hello")), ErrMalformed, "expected an object"},
		{"trailing data", gz(t, append(append([]byte{}, valid...), "{}"...)), ErrMalformed, "data after"},
		{"unterminated", gz(t, valid[:len(valid)-20]), ErrMalformed, ""},
		{"bad escape", gz(t, []byte(`{"messageType":"DATA\x"}`)), ErrMalformed, "escape"},
		{"bad unicode", gz(t, []byte(`{"messageType":"\u12G4"}`)), ErrMalformed, `\u`},
		{"number id leading zero", gz(t, []byte(`{"logEvents":[{"id":012}]}`)), ErrMalformed, "invalid number"},
		{"timestamp string", gz(t, []byte(`{"logEvents":[{"timestamp":"1"}]}`)), ErrMalformed, "invalid number"},
		{"timestamp overflow", gz(t, []byte(`{"logEvents":[{"timestamp":99999999999999999999}]}`)), ErrMalformed, "out of range"},
		{"deep", gz(t, []byte(`{"x":`+strings.Repeat("[", 1000)+strings.Repeat("]", 1000)+`}`)), ErrMalformed, "deeply"},
		{"no log group", gz(t, []byte(`{"messageType":"DATA_MESSAGE","logStream":"s"}`)), ErrMalformed, "without logGroup"},
		{"missing type", gz(t, []byte(`{"logGroup":"g","logStream":"s"}`)), ErrUnknownMessageType, `""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var env Envelope
			err := newDecoder(t, DefaultConfig()).Decode(&env, tt.payload)
			var e *Error
			if !errors.Is(err, tt.want) || !errors.As(err, &e) || !e.Permanent() {
				t.Fatalf("err = %v, want %v as a permanent *Error", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("error %q does not say %q", err, tt.detail)
			}
		})
	}
}

func TestTooManyEvents(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxEvents = 2
	var env Envelope
	if err := newDecoder(t, cfg).Decode(&env, gz(t, read(t, "aws-data.json"))); !errors.Is(err, ErrTooManyEvents) {
		t.Fatalf("err = %v, want ErrTooManyEvents", err)
	}
}

// TestGzipBomb: a small payload that inflates far beyond the cap stops at the cap, with bounded allocation.
func TestGzipBomb(t *testing.T) {
	const limit = 1 << 20
	bomb := gz(t, make([]byte, 256<<20)) // 256 MiB of zeros, about 250 KiB compressed
	cfg := DefaultConfig()
	cfg.MaxDecompressedBytes = limit
	d := newDecoder(t, cfg)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var env Envelope
	err := d.Decode(&env, bomb)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 4*limit {
		t.Errorf("decoding the bomb allocated %d bytes, want at most %d", grew, 4*limit)
	}
	// Exactly at the limit is fine, one byte more is not.
	for _, n := range []int{limit, limit + 1} {
		out, err := Gunzip(nil, gz(t, make([]byte, n)), limit)
		if (err == nil) != (n == limit) || (err == nil && len(out) != n) {
			t.Errorf("Gunzip of %d bytes with limit %d: %d bytes, %v", n, limit, len(out), err)
		}
	}
}

// TestForgedTrailer: a trailer that lies about the size neither breaks decoding nor makes it allocate the lie.
func TestForgedTrailer(t *testing.T) {
	p := gz(t, read(t, "aws-data.json"))
	for _, size := range []uint32{0, 1, 1 << 31} {
		q := append([]byte(nil), p...)
		q[len(q)-4], q[len(q)-3], q[len(q)-2], q[len(q)-1] = byte(size), byte(size>>8), byte(size>>16), byte(size>>24)
		out, err := Gunzip(nil, q, 1<<24)
		// The size check of the gzip reader notices the forgery; the point is no panic and a bounded buffer.
		if err == nil && len(out) != len(read(t, "aws-data.json")) || cap(out) > 64*len(q)+1 {
			t.Errorf("size %d: %d bytes (cap %d), %v", size, len(out), cap(out), err)
		}
		// Decode's own gunzip (into a string) grows from the small hints the same way, and fails the same way.
		text, serr := gunzipString(q, 1<<24)
		if (serr == nil) != (err == nil) || serr == nil && text != string(out) {
			t.Errorf("size %d: gunzipString gave %d bytes, %v; Gunzip %d bytes, %v", size, len(text), serr, len(out), err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	err := Config{MaxDecompressedBytes: 1, MaxEvents: 0}.Validate()
	if err == nil || !strings.Contains(err.Error(), "MaxDecompressedBytes") || !strings.Contains(err.Error(), "MaxEvents") {
		t.Fatalf("Validate = %v, want both problems", err)
	}
	if _, err := NewDecoder(Config{}); err == nil {
		t.Fatal("NewDecoder accepted a zero config")
	}
}

// TestReuse: decoding into the same Envelope again leaves earlier strings intact (each payload has its buffer).
func TestReuse(t *testing.T) {
	d := newDecoder(t, DefaultConfig())
	var env Envelope
	if err := d.Decode(&env, gz(t, read(t, "aws-data.json"))); err != nil {
		t.Fatal(err)
	}
	first := env.LogEvents[0].Message
	keep := strings.Clone(first)
	if err := d.Decode(&env, gz(t, read(t, "escapes.json"))); err != nil {
		t.Fatal(err)
	}
	if first != keep {
		t.Fatalf("a string of the first envelope changed: %q", first)
	}
}

// stdEnvelope is the plain encoding/json view of an envelope, the reference the scanner must agree with.
type stdEnvelope flowgen.PlainEnvelope

func (s *stdEnvelope) events() []LogEvent {
	out := make([]LogEvent, 0, len(s.LogEvents))
	for _, e := range s.LogEvents {
		id := string(e.ID)
		var uq string // a JSON string, unquoted as JSON does (strconv.Unquote knows no \/)
		if len(id) > 0 && id[0] == '"' && json.Unmarshal(e.ID, &uq) == nil {
			id = uq
		} else if id == "null" {
			id = ""
		}
		out = append(out, LogEvent{ID: id, Timestamp: e.Timestamp, Message: e.Message})
	}
	return out
}

func FuzzDecodeEnvelope(f *testing.F) {
	files, _ := filepath.Glob("testdata/*")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && !strings.HasSuffix(p, ".golden.json") {
			f.Add(b)
			if !IsGzip(b) {
				f.Add(gz(f, b))
			}
		}
	}
	// Compact events, as CloudWatch Logs writes them, reach the scanner's fast path; the variants leave it midway.
	const head = `{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","subscriptionFilters":["f"],"logEvents":[`
	for _, evs := range []string{
		`{"id":"3","timestamp":1700000000000,"message":"2 1 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 40 1 2 ACCEPT OK"},{"id":"4","timestamp":0,"message":""}`,
		`{"id":"3","timestamp":17.5,"message":"m"}`, `{"id":"3","timestamp":017,"message":"m"}`,
		`{"id":"3","timestamp":-1,"message":"m"}`, `{"id":"3","timestamp":1e3,"message":"m"}`,
		`{"id":"3","timestamp":1234567890123456789,"message":"m"}`, `{"id":"3","timestamp":1,"message":"a\"b\u00e9"}`,
		`{"id":"a\/b","timestamp":1,"message":"m"}`, `{"id":7,"timestamp":1,"message":"m"}`,
		`{"id":"3","timestamp":1,"message":"m","extra":1}`, `{"id":"3","timestamp":1,"message":"m"`,
		`{"id":"3","timestamp":1,"message":"m}`, `{"id":"3","timestamp":1 ,"message":"m"}`,
	} {
		f.Add([]byte(head + evs + `]}`))
	}
	cfg := DefaultConfig()
	cfg.MaxDecompressedBytes = MinDecompressedBytes
	cfg.MaxEvents = 1000
	f.Fuzz(func(t *testing.T, data []byte) {
		d, _ := NewDecoder(cfg)
		var env Envelope
		if err := d.Decode(&env, data); err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error of type %T: %v", err, err)
			}
		} else if raw, gerr := Gunzip(nil, data, cfg.MaxDecompressedBytes); gerr != nil {
			t.Fatalf("Decode accepted what Gunzip refuses: %v", gerr)
		} else {
			// Decode (gunzip into a shared string, copied before unescaping) and DecodeJSON (a private copy) agree.
			var again Envelope
			if err := d.DecodeJSON(&again, raw); err != nil {
				t.Fatalf("Decode accepted what DecodeJSON refuses: %v", err)
			}
			if diff := cmp.Diff(again, env, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("Decode and DecodeJSON differ (-json +decode):\n%s", diff)
			}
		}
		err := d.DecodeJSON(&env, data)
		// The fast path for compact events changes nothing: the general reader alone gives the same envelope or error.
		general, _ := NewDecoder(cfg)
		general.sc.generalOnly = true
		var genv Envelope
		gerr := general.DecodeJSON(&genv, data)
		if fmt.Sprint(err) != fmt.Sprint(gerr) {
			t.Fatalf("with the fast path: %v; general reader alone: %v", err, gerr)
		}
		if err == nil {
			if diff := cmp.Diff(genv, env, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("fast path and general reader differ (-general +fast):\n%s", diff)
			}
		}
		if err != nil || env.IsControl() || !bytes.Contains(data, []byte(`"logEvents"`)) {
			return
		}
		// Where both accept the input, the hand-written scanner and encoding/json agree.
		var std stdEnvelope
		if json.Unmarshal(data, &std) != nil || !utf8Valid(data) {
			return
		}
		if env.LogGroup != std.LogGroup || env.LogStream != std.LogStream || env.Owner != std.Owner {
			t.Fatalf("header: scanner %q %q %q, encoding/json %q %q %q", env.LogGroup, env.LogStream, env.Owner, std.LogGroup, std.LogStream, std.Owner)
		}
		if diff := cmp.Diff(std.events(), env.LogEvents, cmpEmpty); diff != "" {
			t.Fatalf("events differ from encoding/json (-std +scanner):\n%s", diff)
		}
	})
}

var cmpEmpty = cmp.Comparer(func(a, b []LogEvent) bool {
	return len(a) == 0 && len(b) == 0 || cmp.Equal([]LogEvent(a), []LogEvent(b))
})

func utf8Valid(b []byte) bool { return strings.ToValidUTF8(string(b), "\uFFFD") == string(b) }
