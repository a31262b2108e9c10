package aggregate

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kinflow/kinflow/internal/jsonw"
	"github.com/kinflow/kinflow/internal/testing/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenPartials are cut from a few flows: an exact set with ports and an IPv6 peer, and (with a cap of 2) an
// estimated one.
func goldenPartials(tb testing.TB) []Partial {
	tb.Helper()
	cfg := DefaultConfig()
	cfg.MaxExactPeers = 2
	a := mustAccumulator(tb, cfg)
	a.SetWatermark(t0 + 3600)
	for _, f := range []Flow{
		{Start: t0 + 10, End: t0 + 70, Src: ipA, Dst: ipB, SrcPort: 49152, DstPort: 443, Protocol: 6, Bytes: 5000, Packets: 12},
		{Start: t0 + 20, End: t0 + 80, Src: ipA, Dst: ipC, SrcPort: 49153, DstPort: 53, Protocol: 17, Bytes: 120, Packets: 2},
		{Start: t0 + 30, End: t0 + 31, Src: ipA, Dst: netip.MustParseAddr("198.18.0.1"), DstPort: 22, Protocol: 6, Bytes: 44, Packets: 1, Rejected: true},
	} {
		if _, err := a.Add(f); err != nil {
			tb.Fatal(err)
		}
	}
	return a.Cut("shardId-000000000003", "49590338271490256608559692538361571095921575989136588898", "49590338271490256608559692538361571095921575989136599010")
}

func TestGolden(t *testing.T) {
	parts := goldenPartials(t)
	var hub, peer *Partial
	for i := range parts {
		switch parts[i].IP {
		case ipA:
			hub = &parts[i]
		case ipC:
			peer = &parts[i]
		}
	}
	finals, err := Finalize(parts, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		doc  func([]byte) ([]byte, error)
	}{
		{"partial-exact", peer.AppendJSON},
		{"partial-estimated", hub.AppendJSON},
		{"final-exact", finals[len(finals)-1].AppendJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.doc([]byte("prefix:"))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := bytes.CutPrefix(got, []byte("prefix:"))
			if !ok {
				t.Fatal("AppendJSON did not append")
			}
			if !json.Valid(got) {
				t.Fatalf("invalid JSON: %s", got)
			}
			golden.File(t, *update, filepath.Join("testdata", tt.name+".json"), append(got, '\n'))
		})
	}
}

func TestRoundTrip(t *testing.T) {
	parts := goldenPartials(t)
	opts := cmp.Options{cmpopts.EquateComparable(netip.Addr{}), cmpopts.IgnoreUnexported(ConnSet{})}
	for _, p := range parts {
		t.Run(p.IP.String(), func(t *testing.T) {
			src, err := p.AppendJSON(nil)
			if err != nil {
				t.Fatal(err)
			}
			back, err := DecodePartial(src)
			if err != nil {
				t.Fatalf("DecodePartial(%s): %v", src, err)
			}
			if diff := cmp.Diff(p, back, opts); diff != "" {
				t.Errorf("round trip (-cut +decoded):\n%s", diff)
			}
			if again, _ := back.AppendJSON(nil); !bytes.Equal(again, src) {
				t.Errorf("re-encoded differently:\n%s\n%s", src, again)
			}
			if back.ID() != p.ID() {
				t.Errorf("id %s, want %s", back.ID(), p.ID())
			}
			f := Final{Revision: 4, ConnSet: p.ConnSet}
			fsrc, err := f.AppendJSON(nil)
			if err != nil {
				t.Fatal(err)
			}
			fback, err := DecodeFinal(fsrc)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(f, fback, opts); diff != "" {
				t.Errorf("final round trip (-want +decoded):\n%s", diff)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "partial-exact.json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, from, to, want string
	}{
		{"not json", `{`, `[`, "invalid character"},
		{"bad ip", `"ip":"2600:1f18::c"`, `"ip":"10.0.0.300"`, "ip:"},
		{"zoned ip", `"ip":"2600:1f18::c"`, `"ip":"fe80::1%eth0"`, "zoned"},
		{"peer count", `"peers_count":1`, `"peers_count":2`, "peers_count 2, but 1 distinct peers"},
		{"port count", `"dst_ports_count":0`, `"dst_ports_count":3`, "dst_ports_count 3"},
		{"bad date", `"first_seen":"`, `"first_seen":"yesterday`, "first_seen"},
		{"timestamp", `"@timestamp":"2026-11-23T12:00:00Z"`, `"@timestamp":"2026-11-23T12:10:00Z"`, "@timestamp"},
		{"inverted window", `"end":"2026-11-23T12:10:00Z"`, `"end":"2026-11-23T11:10:00Z"`, "want an end 1s to 24h"},
		{"no shard", `"shard_id"`, `"shard"`, "partial.shard_id"},
		{"sketch without estimate", `"peers_count"`, `"peers_sketch":"AgAAAA==","peers_count"`, "peers_sketch present"},
		{"estimate without sketch", `"peers_estimated":false`, `"peers_estimated":true`, "peers_sketch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(string(good), tt.from, tt.to, 1)
			if src == string(good) {
				t.Fatalf("%q not in the golden partial", tt.from)
			}
			_, err := DecodePartial([]byte(src))
			if !errors.Is(err, ErrDecode) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("DecodePartial = %v, want ErrDecode mentioning %q", err, tt.want)
			}
		})
	}
	if _, err := DecodeFinal(good); err == nil || !strings.Contains(err.Error(), "revision missing") {
		t.Errorf("DecodeFinal of a partial = %v, want revision missing", err)
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"shardId-000000000001", `a"b\c`, "tab\tnul\x00", "ünï", "bad \xff utf8"} {
		b := jsonw.AppendString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Errorf("%q -> %s: %v", s, b, err)
		} else if want := strings.ToValidUTF8(s, "\ufffd"); back != want {
			t.Errorf("%q -> %s -> %q", s, b, back)
		}
	}
}

// FuzzDecodePartial: whatever decodes must encode, and decode again to the same documents.
func FuzzDecodePartial(f *testing.F) {
	for _, name := range []string{"partial-exact", "partial-estimated", "final-exact"} {
		b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := DecodePartial(src)
		if err != nil {
			return
		}
		once, err := p.AppendJSON(nil)
		if err != nil {
			t.Fatalf("decoded %s, cannot encode: %v", src, err)
		}
		q, err := DecodePartial(once)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", once, err)
		}
		twice, err := q.AppendJSON(nil)
		if err != nil || !bytes.Equal(once, twice) {
			t.Fatalf("not stable (%v):\n%s\n%s", err, once, twice)
		}
	})
}
