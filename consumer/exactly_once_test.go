package main

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinflow/kinflow/aggregate"
	"github.com/kinflow/kinflow/internal/testing/flowgen"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// refSet is the brute-force connection set of one (window, ip): computed from the lines put, with none of
// kinflow's code.
type refSet struct {
	peers, ports                   map[string]bool
	flowsSent, flowsRecv, rejected uint64
	bytesSent, bytesRecv           uint64
	packetsSent, packetsRecv       uint64
}

// referenceSets returns the connection sets of lines (each counted once), keyed "<window start> <ip>".
func referenceSets(lines []string) map[string]*refSet {
	out := map[string]*refSet{}
	get := func(k string) *refSet {
		if out[k] == nil {
			out[k] = &refSet{peers: map[string]bool{}, ports: map[string]bool{}}
		}
		return out[k]
	}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 14 || f[13] != "OK" {
			continue
		}
		start, _ := strconv.ParseInt(f[10], 10, 64)
		w := strconv.FormatInt(start-start%600, 10)
		src, dst := netip.MustParseAddr(f[3]).String(), netip.MustParseAddr(f[4]).String()
		packets, _ := strconv.ParseUint(f[8], 10, 64)
		bytes, _ := strconv.ParseUint(f[9], 10, 64)
		rejected := f[12] == "REJECT"
		s, d := get(w+" "+src), get(w+" "+dst)
		s.peers[dst], d.peers[src] = true, true
		s.flowsSent++
		s.bytesSent += bytes
		s.packetsSent += packets
		if f[7] == "6" || f[7] == "17" || f[7] == "132" {
			s.ports[f[6]] = true
		}
		d.flowsRecv++
		d.bytesRecv += bytes
		d.packetsRecv += packets
		if rejected {
			s.rejected++
			if src != dst {
				d.rejected++
			}
		}
	}
	return out
}

// diffSets compares connection sets with the reference, every counter and set size; it returns one line per
// difference (at most max) and how many differ.
func diffSets(got map[string]aggregate.ConnSet, want map[string]*refSet, max int) (lines []string, n int) {
	report := func(format string, args ...any) {
		n++
		if len(lines) < max {
			lines = append(lines, fmt.Sprintf(format, args...))
		}
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			report("%s: missing", k)
			continue
		}
		have := [8]uint64{g.PeersCount, uint64(len(g.DstPorts)), g.FlowsSent, g.FlowsReceived, g.FlowsRejected,
			g.BytesSent + g.BytesReceived, g.PacketsSent, g.PacketsReceived}
		ref := [8]uint64{uint64(len(w.peers)), uint64(len(w.ports)), w.flowsSent, w.flowsRecv, w.rejected,
			w.bytesSent + w.bytesRecv, w.packetsSent, w.packetsRecv}
		if have != ref {
			report("%s: peers, ports, flows sent/received/rejected, bytes, packets sent/received = %v, want %v", k, have, ref)
		}
	}
	for k := range got {
		if want[k] == nil {
			report("%s: not in the reference", k)
		}
	}
	return lines, n
}

// mergedPartials merges the partials under prefix as the finalizer would, keyed "<window start> <ip>".
func mergedPartials(t *testing.T, es, prefix string) map[string]aggregate.ConnSet {
	t.Helper()
	finals, _ := testenv.MergedPartials(t, es, prefix)
	out := make(map[string]aggregate.ConnSet, len(finals))
	for k, f := range finals {
		out[k] = f.ConnSet
	}
	return out
}

// finalSets returns the final connection sets under prefix, keyed "<window start> <ip>".
func finalSets(t *testing.T, es, prefix string) map[string]aggregate.ConnSet {
	t.Helper()
	out := map[string]aggregate.ConnSet{}
	for _, raw := range testenv.Sources(t, es, prefix+"-conns-2*") {
		f, err := aggregate.DecodeFinal(raw)
		if err != nil {
			t.Fatal(err)
		}
		out[strconv.FormatInt(f.WindowStart, 10)+" "+f.IP.String()] = f.ConnSet
	}
	return out
}

// putTwice sends deliveries like put, and sends a share of them a second time, as an at-least-once producer does:
// half of the copies under the same partition key (the same shard, a later sequence number), half under another
// (most likely another shard). It returns how many copies it sent.
func (r *rig) putTwice(batches []flowgen.Batch, share float64, rng *rand.Rand) (copies int) {
	r.t.Helper()
	for i, b := range batches {
		key := strconv.Itoa(len(r.lines)) + "-" + strconv.Itoa(i)
		data := r.gen.Envelope("/vpc/flow-logs/faults", "kinflow", b)
		keys := []string{key}
		if rng.Float64() < share {
			other := key
			if rng.IntN(2) == 0 {
				other = "copy-" + key
			}
			keys = append(keys, other)
			copies++
		}
		for _, k := range keys {
			if _, err := r.client.PutRecord(r.ctx, &kinesis.PutRecordInput{StreamName: &r.name, PartitionKey: &k, Data: data}); err != nil {
				r.t.Fatal(err)
			}
		}
		for _, e := range b.Events {
			r.lines = append(r.lines, e.Message)
		}
	}
	return copies
}

// Records put twice (same shard and another), a worker killed with SIGKILL mid-run while it holds leases and
// perhaps the finalizer lock, the survivor taking over: every counter and set of the connection sets, partials
// merged and finals alike, equals the brute force over the lines put once; and since the deliveries come in event
// time order (no flow later than the allowed lateness), every window is finalized once, as revision 1, however the
// kill and the duplicates fall.
func TestRunDuplicatesAndKills(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs worker processes")
	}
	r := newRig(t, 4)
	rng := rand.New(rand.NewPCG(11, 13))
	cfg := flowgen.DefaultConfig(testenv.Now(t).UTC().Add(-3 * time.Hour).Truncate(time.Hour))
	cfg.Seed = 31
	batches := flowgen.New(cfg).Timeline(60, 10, 40, 2*time.Minute)
	bin := filepath.Join(t.TempDir(), "consumer")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	hook := newPostLog(t)
	common := []string{"-stream-name", r.name, "-application-name", r.name, "-kinesis-endpoint", r.kin, "-dynamodb-endpoint", r.ddb,
		"-sink-url", r.es, "-index-prefix", r.name, "-aws-region", testenv.Region, "-log-level", "error",
		"-webhook-url", hook.srv.URL + "/connection_sets/{bucket_time}", "-finalizer-interval", "1s"}
	start := func(id string) *exec.Cmd {
		args := append([]string{"run", "-metrics-addr", "127.0.0.1:0", "-worker-id", id, "-finalizer-lock-lease", "5s"}, common...)
		cmd := exec.CommandContext(r.ctx, bin, args...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=kinflow-test", "AWS_SECRET_ACCESS_KEY=kinflow-test")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	copies := r.putTwice(batches[:20], 0.2, rng)
	w1, w2 := start("w1"), start("w2")
	time.Sleep(5 * time.Second) // both take leases and start reading
	copies += r.putTwice(batches[20:40], 0.2, rng)
	if err := w1.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	w1.Wait()
	copies += r.putTwice(batches[40:], 0.2, rng)
	r.waitFlows(3 * time.Minute)
	// The survivor has read everything once the flows are in; give its last checkpoint interval time to cut.
	time.Sleep(12 * time.Second)
	if err := w2.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := w2.Wait(); err != nil {
		t.Errorf("the survivor did not exit cleanly on SIGTERM: %v", err)
	}
	t.Logf("%d lines in %d deliveries, %d of them put twice", len(r.lines), len(batches), copies)
	if got := testenv.Count(t, r.es, r.name+"-flows-*"); got != len(r.lines) {
		t.Errorf("flow documents = %d, want %d (one per line put)", got, len(r.lines))
	}
	want := referenceSets(r.lines)
	if diff, n := diffSets(mergedPartials(t, r.es, r.name), want, 10); n > 0 {
		t.Errorf("merged partials: %d of %d connection sets differ from the brute force:\n%s", n, len(want), strings.Join(diff, "\n"))
	}

	// The stream is quiet now: one more pass closes what the workers left open (the last windows).
	var out, errs strings.Builder
	if err := dispatch(r.ctx, append([]string{"finalize", "-idle-after", "1s"}, common[2:]...), nil, &out, &errs); err != nil {
		t.Fatalf("consumer finalize: %v\n%s", err, errs.String())
	}
	if diff, n := diffSets(finalSets(t, r.es, r.name), want, 10); n > 0 {
		t.Errorf("finals: %d of %d connection sets differ from the brute force:\n%s", n, len(want), strings.Join(diff, "\n"))
	}
	posts := hook.windows()
	maxPosts := 0
	for w, revs := range posts {
		maxPosts = max(maxPosts, len(revs))
		if len(revs) != 1 || revs[0] != 1 {
			t.Errorf("window %s: POSTs with revisions %v, want one, revision 1", w, revs)
		}
	}
	if len(posts) != 6 {
		t.Errorf("the webhook got %d windows, want the corpus's 6", len(posts))
	}
	t.Logf("%d windows, at most %d POSTs per window", len(posts), maxPosts)
}
