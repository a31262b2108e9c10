package redrive

import (
	"encoding/base64"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/transport/cwlogs"
)

// doc is a dead letter's document, as the sink writes it.
type doc = sink.DeadLetterSource

// letter is the dead letter of the given _id and document.
func letter(id string, d doc) Letter { return Letter{ID: id, DeadLetterSource: d} }

// TestGroupLetters: letters are cut into one record each, a decode letter's record is its original bytes, and
// parse and index letters become one envelope of their events that cwlogs decodes back to the same ids,
// timestamps, lines, log group and stream.
func TestGroupLetters(t *testing.T) {
	raw := []byte{0x1f, 0x8b, 0x00, 0xff}
	letters := []Letter{
		letter("d", doc{Stage: "decode", Reason: "corrupt_gzip", ShardID: "s0", SequenceNumber: "1",
			Original: base64.StdEncoding.EncodeToString(raw), OriginalEncoding: "base64"}),
		letter("p1", doc{Stage: "parse", ShardID: "s0", SequenceNumber: "2", LogGroup: "/g", LogStream: "eni-1-all",
			EventID: "b", EventTimestamp: "2026-11-23T12:00:01.250Z", Original: "line b", OriginalEncoding: "utf8"}),
		letter("p0", doc{Stage: "parse", ShardID: "s0", SequenceNumber: "2", LogGroup: "/g", LogStream: "eni-1-all",
			EventID: "a", EventTimestamp: "2026-11-23T12:00:00Z", Original: "line a \u00e9", OriginalEncoding: "utf8"}),
		letter("i", doc{Stage: "index", ShardID: "s0", SequenceNumber: "2", LogGroup: "/g", LogStream: "eni-1-all",
			EventID: "b", EventTimestamp: "2026-11-23T12:00:01.250Z", Original: "line b", OriginalEncoding: "utf8"}),
		letter("old", doc{Stage: "parse", ShardID: "s1", SequenceNumber: "9", LogGroup: "/g", LogStream: "x", EventID: "c",
			Original: "line c", OriginalEncoding: "utf8"}),
		letter("w", doc{Stage: "webhook", ShardID: "webhook", SequenceNumber: "kinflow-1-r1-c0", Original: "{}"}),
		letter("partial", doc{Stage: "index", ShardID: "redrive/s2", SequenceNumber: "3", TargetIndex: "kinflow-conns-partial-x"}),
	}
	groups, err := groupLetters(letters)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 5 {
		t.Fatalf("%d groups, want 5", len(groups))
	}
	if d := groups[0]; d.key != (recordKey{"s0", "1"}) || string(d.record.Data) != string(raw) || d.record.SequenceNumber != "1" {
		t.Errorf("decode group: %+v", d)
	}
	dec, err := cwlogs.NewDecoder(cwlogs.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var env cwlogs.Envelope
	if err := dec.Decode(&env, groups[1].record.Data); err != nil {
		t.Fatalf("the synthesized envelope does not decode: %v", err)
	}
	want := cwlogs.Envelope{MessageType: cwlogs.DataMessage, LogGroup: "/g", LogStream: "eni-1-all", SubscriptionFilters: []string{"kinflow-redrive"},
		LogEvents: []cwlogs.LogEvent{{ID: "a", Timestamp: 1795435200000, Message: "line a \u00e9"}, {ID: "b", Timestamp: 1795435201250, Message: "line b"}}}
	if diff := cmp.Diff(want, env); diff != "" {
		t.Errorf("envelope round trip (-want +got):\n%s", diff)
	}
	if n := len(groups[1].events["b"]); n != 2 {
		t.Errorf("event b stands for %d letters, want 2 (its parse and its index letter)", n)
	}
	if g := groups[2]; g.missingTimestamp != 1 {
		t.Errorf("a letter without event_timestamp: missingTimestamp %d, want 1", g.missingTimestamp)
	}
	if g := groups[3]; g.record.Data != nil || g.skipped["w"] == "" {
		t.Errorf("a webhook letter is skipped: %+v", g)
	}
	if g := groups[4]; g.record.Data != nil || g.skipped["partial"] == "" {
		t.Errorf("a refused partial (no original) is skipped: %+v", g)
	}
}

// TestResults: what a record's new dead letters say of each of its letters.
func TestResults(t *testing.T) {
	g := group{letters: []Letter{letter("x", doc{Stage: "parse", Reason: "field_count", EventID: "1"}),
		letter("y", doc{Stage: "parse", Reason: "field_count", EventID: "2"})}, skipped: map[string]string{}}
	dead := []captured{{letter: letter("", doc{Stage: "index", Reason: "document_parsing_exception", EventID: "2", Error: "bad"})}}
	got := results(&g, dead, 1)
	want := []LetterResult{
		{ID: "x", Stage: "parse", Reason: "field_count", Result: ResultSucceeded, Flows: 1},
		{ID: "y", Stage: "parse", Reason: "field_count", Result: ResultFailed, NewStage: "index", NewReason: "document_parsing_exception", Error: "bad"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// FuzzLetterDecode: whatever a dead letter's original holds, showing it returns an error or a readable value,
// never panics.
func FuzzLetterDecode(f *testing.F) {
	env, err := cwlogs.Encode(&cwlogs.Envelope{MessageType: cwlogs.DataMessage, LogGroup: "/g", LogStream: "s",
		LogEvents: []cwlogs.LogEvent{{ID: "1", Timestamp: 1, Message: "2 123 eni-1"}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(base64.StdEncoding.EncodeToString(env), "base64")
	f.Add(base64.StdEncoding.EncodeToString(env[:len(env)/2]), "base64")
	f.Add("2 123456789012 eni-1 10.0.0.1", "utf8")
	f.Add("!!", "base64")
	f.Fuzz(func(t *testing.T, original, encoding string) {
		l := letter("f", doc{Original: original, OriginalEncoding: encoding})
		d, err := l.Decode(cwlogs.DefaultConfig())
		if err == nil && d.Text == "" && d.Envelope == nil && d.Bytes == nil && original != "" {
			t.Errorf("%q (%s): decoded to nothing", original, encoding)
		}
	})
}
