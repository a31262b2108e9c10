package webhook

import (
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/kinflow/kinflow/aggregate"
)

// benchChunk is n ascending sets of the fixture window, every tenth one estimated, the others with peers exact
// peers and a few ports, plus a top list of 20.
func benchChunk(tb testing.TB, n, peers int) *Chunk {
	tb.Helper()
	ch := &Chunk{WindowStart: winStart, WindowEnd: winEnd, Revision: 1, Index: 0, Last: true}
	top := NewTop(20)
	for i := range n {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		var f aggregate.Final
		if i%10 == 9 {
			f = estimated("10.0.0.0", uint64(20000+i))
		} else {
			f = final(tb, "10.0.0.0", []uint16{22, 53, 80, 443, uint16(1024 + i)})
			for p := range peers {
				f.Peers = append(f.Peers, netip.AddrFrom4([4]byte{172, 16, byte(p >> 8), byte(p)}))
			}
			f.PeersCount = uint64(len(f.Peers))
		}
		f.IP = ip
		ch.Sets = append(ch.Sets, f)
		top.Add(&ch.Sets[i])
	}
	ch.Top = top.Sets()
	return ch
}

// BenchmarkBody compares the hand-written bodies with encoding/json of the same shape (referenceRich, which the
// tests hold byte-identical), in one run: 1000 sets of 40 exact peers, every tenth set estimated.
func BenchmarkBody(b *testing.B) {
	ch := benchChunk(b, 1000, 40)
	rich := newTestClient(b, configFor("http://h/{bucket_time}", FormatRich), Options{})
	compat := newTestClient(b, configFor("http://h/{bucket_time}", FormatCompat), Options{})
	_, body, _, _ := rich.Request(ch)
	b.Run("rich/hand", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, _, _, err := rich.Request(ch); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rich/encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := referenceRich(ch); err != nil {
				b.Fatal(err)
			}
		}
	})
	_, cbody, _, _ := compat.Request(ch)
	b.Run("compat/hand", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(cbody)))
		for b.Loop() {
			if _, _, _, err := compat.Request(ch); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("compat/encoding_json", func(b *testing.B) {
		// encoding/json sorts map keys as strings ("10.0.0.10" before "10.0.0.2"), so a map cannot even give the
		// ascending-IP order; this is only the cost of the nearest plain equivalent.
		b.ReportAllocs()
		b.SetBytes(int64(len(cbody)))
		for b.Loop() {
			m := make(map[string]uint64, len(ch.Sets))
			for i := range ch.Sets {
				m[ch.Sets[i].IP.String()] = ch.Sets[i].PeersCount
			}
			if _, err := json.Marshal(m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkTop(b *testing.B) {
	ch := benchChunk(b, 5000, 0)
	b.ReportAllocs()
	for b.Loop() {
		top := NewTop(20)
		for i := range ch.Sets {
			top.Add(&ch.Sets[i])
		}
		_ = top.Sets()
	}
}
