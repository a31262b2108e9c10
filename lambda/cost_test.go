package main

import (
	"encoding/json"
	"maps"
	"math"
	"testing"
	"time"
)

// The fake cluster of BenchmarkLambdaCost answers each item of a bulk body as the sink writes it, in order, and
// counts the items by index family.
func TestBulkAnswer(t *testing.T) {
	// The second source holds an escaped newline, which a bulk body may; a raw one would break its framing.
	body := `{"create":{"_index":"kfc-flows-2026.12.01","_id":"a"}}` + "\n" + `{"x":1}` + "\n" +
		`{"index":{"_index":"kfc-conns-partial-2026.12.01","_id":"b"}}` + "\n" + `{"y":"\n"}` + "\n" +
		`{"delete":{"_index":"kfc-deadletter","_id":"c"}}` + "\n" +
		`{"create":{"_index":"kfc-flows-2026.11.30","_id":"d"}}` + "\n" + `{}` + "\n"
	resp, families, err := bulkAnswer([]byte(body), "kfc")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Errors bool
		Items  []map[string]struct{ Status int }
	}
	if err := json.Unmarshal(resp, &got); err != nil {
		t.Fatalf("answer %s: %v", resp, err)
	}
	ops := []string{"create", "index", "delete", "create"}
	if got.Errors || len(got.Items) != len(ops) {
		t.Fatalf("answer %s: want %d items, no errors", resp, len(ops))
	}
	for i, op := range ops {
		if got.Items[i][op].Status != 201 {
			t.Errorf("item %d = %v, want %s 201", i, got.Items[i], op)
		}
	}
	if want := map[string]int{"flows": 2, "conns-partial": 1, "deadletter": 1}; !maps.Equal(families, want) {
		t.Errorf("families = %v, want %v", families, want)
	}
	for _, bad := range []string{`{"create":{"_index":"kfc-flows-x"}}`, "{\"create\":{\"_id\":\"a\"}}\n{}\n", "nonsense\n"} {
		if _, _, err := bulkAnswer([]byte(bad), "kfc"); err == nil {
			t.Errorf("bulkAnswer(%q): no error", bad)
		}
	}
}

// The waits of an invocation are the union of the requests' intervals inside it: overlapping requests count once.
func TestUnionWithin(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ivs := []interval{
		{at(-5), at(5), "bulk"},  // starts before the invocation: 5 ms inside
		{at(10), at(30), "bulk"}, // 10-30
		{at(20), at(40), "bulk"}, // overlaps: 30-40 more
		{at(50), at(60), "dynamodb"},
		{at(95), at(120), "bulk"}, // ends after it: 5 ms inside
	}
	if got, want := unionWithin(ivs, t0, at(100)), 50*time.Millisecond; got != want {
		t.Errorf("union = %v, want %v", got, want)
	}
	if got := unionWithin(ivs, at(200), at(300)); got != 0 {
		t.Errorf("union outside every interval = %v", got)
	}
}

// The model: the CPU time at the size's vCPU share, never less than measured; the waits added (serial) or hidden
// under the CPU time (the lower bound); rounded up to the millisecond.
func TestModelMs(t *testing.T) {
	inv := invocation{wall: 500 * time.Millisecond, cpu: 300 * time.Millisecond, wait: 150 * time.Millisecond}
	for _, c := range []struct {
		mb     int
		serial bool
		want   int64
	}{
		{1769, true, 500},  // 300 ms of CPU at one vCPU is less than the 350 ms busy measured: the wall time
		{1769, false, 500}, // the same
		{512, true, 150 + 1037},
		{512, false, 1037}, // 300/(512/1769) = 1036.5 ms, rounded up
		{10240, true, 500}, // six vCPUs cannot make it faster than measured
	} {
		if got := modelMs(inv, c.mb, c.serial); got != c.want {
			t.Errorf("modelMs(%d MB, serial %v) = %d, want %d", c.mb, c.serial, got, c.want)
		}
	}
	// Two invocations of 500 ms at 1769 MB for half a million flows: 1769/1024 GB x 1 s, twice.
	if got, want := gbSecondsPerMillion([]invocation{inv, inv}, 1769, true, 500_000), 2*1769.0/1024; math.Abs(got-want) > 1e-9 {
		t.Errorf("GB-s per million flows = %v, want %v", got, want)
	}
}
