package alerts

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecodeSignal feeds DecodeSignal the golden signal and broken variants of it. It must not panic; what it
// accepts, SignalJSON must write back so that it decodes again to the same signal.
func FuzzDecodeSignal(f *testing.F) {
	src, err := os.ReadFile(filepath.Join("testdata", "signal.golden.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(src)
	for _, r := range [][2]string{
		{`"signal"`, `"alert"`},
		{`"unusual_egress"`, `"unusual"`},
		{`"2001:db8::1:5"`, `"2001:db8::1:5%eth0"`},
		{`"2001:db8::1:5"`, `"::ffff:10.0.0.1"`},
		{`"2001:db8::1:5"`, `"10.0.0.256"`},
		{`"2023-11-14T22:40:00Z"`, `"2023-11-14T23:40:00+01:00"`},
		{`"2023-11-14T22:40:00Z"`, `"0000-01-01T00:00:00+01:00"`},
		{`"2023-11-14T22:40:00Z"`, `"2023-11-14T22:40:00.999999999Z"`},
		{`"2023-11-14T22:20:00Z"`, `"2023-11-14"`},
		{`"active"`, `"withdrawn"`},
		{`"active"`, `"ACTIVE"`},
		{`"baseline"`, `"Baseline"`},
		{`"peers": 254`, `"peers": -1`},
		{`"peers": 254`, `"peers": 1e3`},
		{`"score": 4.5`, `"score": 1e400`},
		{`"severity": 73`, `"severity": 9223372036854775808`},
		{`"revision": 3`, `"revision": null`},
	} {
		variant := bytes.Replace(src, []byte(r[0]), []byte(r[1]), 1)
		if bytes.Equal(variant, src) {
			f.Fatalf("seed %q -> %q: not in the golden signal", r[0], r[1])
		}
		f.Add(variant)
	}
	f.Add(src[:len(src)/2])
	for _, s := range []string{``, `null`, `{}`, `[]`, `{"event":{"kind":"signal"}}`,
		`{"event":{"kind":"signal"},"rule":{"name":"reject_storm"},"source":{"ip":"10.0.0.1"},"window":{"start":"1970-01-01T00:00:00Z","end":"1970-01-01T00:10:00Z"},"alert":{"status":"active","episode_start":"1970-01-01T00:00:00Z","evidence":{"port_sample":[],"peer_sample":[]}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := DecodeSignal(src)
		if err != nil {
			return
		}
		again, err := SignalJSON(&s)
		if err != nil {
			t.Fatalf("SignalJSON of a decoded signal: %v\n%+v", err, s)
		}
		s2, err := DecodeSignal(again)
		if err != nil {
			t.Fatalf("DecodeSignal(SignalJSON(DecodeSignal(src))): %v\nsrc:   %s\nagain: %s", err, src, again)
		}
		if diff := cmp.Diff(s, s2, addrs); diff != "" {
			t.Fatalf("decoded twice, the signal differs (-first +second):\n%s\nsrc:   %s\nagain: %s", diff, src, again)
		}
	})
}
