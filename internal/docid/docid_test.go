package docid

import (
	"net/netip"
	"testing"
)

// The ids are part of the index's contents: changing them would duplicate every document on the next replay.
// These golden values pin them.
func TestGolden(t *testing.T) {
	ip := netip.MustParseAddr("10.0.0.1")
	tests := []struct{ name, got, want string }{
		{"flow", Flow("/vpc/flows", "eni-1-all", "36986315346536421354871281426591849212345678901234567890", 1418530070000, []byte("2 123 eni-1 ...")), "Pu_TivKGIpHXhi0X0qmpdA"},
		{"partial", Partial(1795440000, ip, "shardId-000000000000", "49590338271490256608559692538361571095921575989136588898"), "iOhGthvbqo5rd3endh441A"},
		{"block", Block(1795440000, "shardId-000000000000", "49590338271490256608559692538361571095921575989136588898", 0), "kjFkcMM3obfSrf5AUJgwMQ"},
		{"block 1", Block(1795440000, "shardId-000000000000", "49590338271490256608559692538361571095921575989136588898", 1), "Kz-jqw4w4KgvPLFIsW6S2g"},
		{"final", Final(1795440000, ip), "DAkgtkFEszzvyXaO8OG4_w"},
		{"deadletter", DeadLetter("shardId-000000000000", "4959", ""), "gvF_c1kfua097KeTiABJ7A"},
		{"deadletter item", DeadLetter("shardId-000000000000", "4959", "event 3"), "QWA2XJSmYOBnoBNEpTpdrg"},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		if len(tt.got) != Len {
			t.Errorf("%s: id %q has length %d, want %d", tt.name, tt.got, len(tt.got), Len)
		}
		if other, dup := seen[tt.got]; dup {
			t.Errorf("%s and %s share id %s", tt.name, other, tt.got)
		}
		seen[tt.got] = tt.name
		if tt.got != tt.want {
			t.Errorf("%s: id %s, want %s", tt.name, tt.got, tt.want)
		}
	}
}

func TestIdentity(t *testing.T) {
	v4 := netip.MustParseAddr("10.0.0.1")
	mapped := netip.MustParseAddr("::ffff:10.0.0.1")
	if Final(600, v4) != Final(600, mapped) {
		t.Error("an IPv4 address and its IPv4-mapped IPv6 form got different ids")
	}
	if Final(600, v4) == Final(1200, v4) {
		t.Error("two windows share a final id")
	}
	// Length prefixes: moving a byte from one field to the next must change the id.
	if DeadLetter("ab", "c", "") == DeadLetter("a", "bc", "") {
		t.Error("field boundaries are ambiguous")
	}
	if Flow("g", "s", "1", 5, []byte("m")) != Flow("g", "s", "1", 5, []byte("m")) {
		t.Error("same event, different ids")
	}
	if Flow("g", "s", "1", 5, []byte("m")) == Flow("g", "s", "1", 5, []byte("n")) {
		t.Error("moto-style repeated event ids with different messages collide")
	}
}

func BenchmarkAppendFlow(b *testing.B) {
	msg := []byte("2 123456789010 eni-0a1b2c3d4e5f60718 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK")
	dst := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendFlow(dst[:0], "/vpc/flowlogs", "eni-0a1b2c3d4e5f60718-all", "36986315346536421354871281426591849212345678901234567890", 1418530070000, msg)
	}
}
