package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kinflow/kinflow/internal/state"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// fixtureShard is the shard id of every record of the fixture.
const fixtureShard = "shardId-000000000000"

// newStore returns a state store over a fresh table on the local DynamoDB emulator.
func newStore(t testing.TB) *state.Store {
	t.Helper()
	ctx := testenv.Context(t, time.Minute)
	s, err := state.New(dynamodb.NewFromConfig(testenv.AWSConfig(testenv.URL(t, testenv.Dynalite))), testenv.UniqueName(t, "kfl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureTable(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// maxStart is the latest flow start of the aggregated (OK) lines: the watermark a shard reaches on them.
func maxStart(t testing.TB, lines []string) int64 {
	t.Helper()
	var wm int64
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 14 || f[13] != "OK" {
			continue
		}
		start, err := strconv.ParseInt(f[10], 10, 64)
		if err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		wm = max(wm, start)
	}
	return wm
}

// progressOf reads the stored progress of shard.
func progressOf(t *testing.T, s *state.Store, shard string) state.Progress {
	t.Helper()
	ps, err := s.Progress(testenv.Context(t, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].ShardID != shard {
		t.Fatalf("stored progress = %+v, want one item for %s", ps, shard)
	}
	return ps[0]
}

// show renders progress with times in Unix milliseconds (their stored precision), for exact comparisons.
func show(p state.Progress) string {
	ms := func(t time.Time) int64 {
		if t.IsZero() {
			return 0
		}
		return t.UnixMilli()
	}
	return fmt.Sprintf("%s watermark=%d caught_up=%v ended=%v last_data_at=%d updated_at=%d",
		p.ShardID, p.Watermark, p.CaughtUp, p.Ended, ms(p.LastDataAt), ms(p.UpdatedAt))
}

// emfLines decodes the embedded-metric-format lines written to b.
func emfLines(t testing.TB, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("EMF line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// After each invocation the shard's progress is in the state table: the newest flow start the batch acknowledged,
// whether its last record arrived within a minute, and when it last carried flows. An older batch, and one without
// flows, move neither the watermark nor LastDataAt back.
func TestHandleRecordsProgress(t *testing.T) {
	c := newCluster(t)
	h := c.handler(t, 100)
	store := newStore(t)
	h.progress = store
	var emf bytes.Buffer
	h.emf = &emf

	fx := loadFixture(t)
	wm := maxStart(t, fixtureLines(t, fx))
	older := events.KinesisEvent{Records: fx.Records[:1]}
	if o := maxStart(t, fixtureLines(t, older)); o >= wm {
		t.Fatalf("the first record's newest flow (%d) is not older than the batch's (%d)", o, wm)
	}
	poison := fx.Records[0]
	poison.Kinesis.Data = []byte("definitely not gzip") // dead-lettered: acknowledged, no flows
	arrived := fx.Records[len(fx.Records)-1].Kinesis.ApproximateArrivalTimestamp.Time
	at := func(d time.Duration) time.Time { return arrived.Add(d).Truncate(time.Millisecond) }

	steps := []struct {
		name string
		ev   events.KinesisEvent
		now  time.Time
		want state.Progress
	}{
		{"whole batch at the tip", fx, at(30 * time.Second),
			state.Progress{ShardID: fixtureShard, Watermark: wm, CaughtUp: true, LastDataAt: at(30 * time.Second), UpdatedAt: at(30 * time.Second)}},
		{"older batch, behind", older, at(10 * time.Minute),
			state.Progress{ShardID: fixtureShard, Watermark: wm, CaughtUp: false, LastDataAt: at(10 * time.Minute), UpdatedAt: at(10 * time.Minute)}},
		{"no flows", events.KinesisEvent{Records: []events.KinesisEventRecord{poison}}, at(20 * time.Minute),
			state.Progress{ShardID: fixtureShard, Watermark: wm, CaughtUp: false, LastDataAt: at(10 * time.Minute), UpdatedAt: at(20 * time.Minute)}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			h.now = func() time.Time { return s.now }
			emf.Reset()
			if failed := invoke(t, h, s.ev, time.Minute); len(failed) != 0 {
				t.Fatalf("BatchItemFailures = %v", failed)
			}
			if got, want := show(progressOf(t, store, fixtureShard)), show(s.want); got != want {
				t.Errorf("progress\n got %s\nwant %s", got, want)
			}
			lines := emfLines(t, &emf)
			if len(lines) != 1 || lines[0]["ProgressErrors"] != 0.0 {
				t.Errorf("EMF lines = %v, want one with ProgressErrors 0", lines)
			}
		})
	}
}

// A progress write that fails (here: the table does not exist) is counted and logged, and the batch is still
// acknowledged in full: progress is advisory.
func TestHandleProgressFailureKeepsBatch(t *testing.T) {
	c := newCluster(t)
	h := c.handler(t, 100)
	missing, err := state.New(dynamodb.NewFromConfig(testenv.AWSConfig(testenv.URL(t, testenv.Dynalite))), testenv.UniqueName(t, "kfl-missing"))
	if err != nil {
		t.Fatal(err)
	}
	h.progress = missing
	var emf bytes.Buffer
	h.emf = &emf
	fx := loadFixture(t)
	if failed := invoke(t, h, fx, time.Minute); len(failed) != 0 {
		t.Fatalf("BatchItemFailures = %v, want none", failed)
	}
	lines := emfLines(t, &emf)
	if len(lines) != 1 || lines[0]["ProgressErrors"] != 1.0 || lines[0]["BatchItemFailures"] != 0.0 {
		t.Errorf("EMF lines = %v, want one with ProgressErrors 1 and BatchItemFailures 0", lines)
	}
	if got, want := len(c.sources(t, "-flows-*")), len(fixtureLines(t, fx)); got != want {
		t.Errorf("flow documents = %d, want %d", got, want)
	}
}
