package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/pipeline"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/sink/elastic"
	"github.com/kinflow/kinflow/internal/testing/flowgen"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// `consumer deadletters`: lines of a format with tcp-flags whose override was forgotten are dead letters; list
// counts them, show decodes one, redrive is a dry run until -dry-run=false, and with the override set it indexes
// every line.
func TestDeadLettersCommand(t *testing.T) {
	url := testenv.URL(t, testenv.Elasticsearch)
	prefix := testenv.UniqueName(t, "kfdl")
	testenv.DropPrefix(t, url, prefix)
	ctx := testenv.Context(t, 2*time.Minute)
	const group = "/vpc/flow-logs/flags"

	// The dead letters, through the pipeline's real path under a configuration without the override.
	cfg := elastic.DefaultConfig()
	cfg.Addresses = []string{url}
	cfg.Templates.Prefix, cfg.Templates.Replicas, cfg.Sink.Prefix, cfg.SetupOnStart = prefix, 0, prefix, true
	s, err := elastic.New(ctx, cfg, sink.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	client, err := elastic.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	resolver, err := vpcflow.NewResolver(vpcflow.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	pcfg := pipeline.DefaultConfig()
	pcfg.Prefix = prefix
	p, err := pipeline.New(pcfg, resolver, s, pipeline.Options{Reader: client})
	if err != nil {
		t.Fatal(err)
	}
	sh, err := p.Shard("shardId-000000000000")
	if err != nil {
		t.Fatal(err)
	}
	g := flowgen.New(flowgen.DefaultConfig(testenv.Now(t).Add(-time.Hour)))
	lines := 0
	for i, b := range g.Batches(6, 5, 10) {
		for j := range b.Events {
			b.Events[j].Message += " 2"
		}
		lines += len(b.Events)
		rec := pipeline.Record{SequenceNumber: fmt.Sprintf("4959%052d", i+1), Data: g.Envelope(group, "kinflow", b)}
		if _, err := sh.Process(ctx, []pipeline.Record{rec}); err != nil {
			t.Fatal(err)
		}
	}
	if err := sh.Cut(ctx); err != nil {
		t.Fatal(err)
	}
	testenv.Count(t, url, prefix+"-deadletter")

	run := func(args ...string) string {
		t.Helper()
		var out, errs strings.Builder
		all := append([]string{"deadletters"}, args...)
		all = append(all, "-sink-url", url, "-index-prefix", prefix, "-aws-region", testenv.Region, "-log-level", "warn")
		if err := dispatch(ctx, all, nil, &out, &errs); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errs.String())
		}
		return out.String()
	}

	var list struct {
		Total  int64 `json:"total"`
		Groups []struct {
			Stage, Reason, Status string
			Count                 int64
		} `json:"groups"`
	}
	if err := json.Unmarshal([]byte(run("list", "-json")), &list); err != nil {
		t.Fatal(err)
	}
	if list.Total != int64(lines) || len(list.Groups) != 1 || list.Groups[0].Reason != "field_count" || list.Groups[0].Status != "new" {
		t.Errorf("list: %+v, want %d new field_count letters", list, lines)
	}
	table := run("list", "-stage", "parse")
	t.Logf("list:\n%s", table)
	if !strings.Contains(table, group) || !strings.Contains(table, fmt.Sprint(lines)) {
		t.Errorf("list table:\n%s", table)
	}

	var ids struct {
		Hits struct {
			Hits []struct {
				ID string `json:"_id"`
			}
		}
	}
	if err := sink.DoJSON(ctx, client, "POST", "/"+prefix+"-deadletter/_search?size=1", []byte(`{}`), 1<<20, &ids); err != nil || len(ids.Hits.Hits) != 1 {
		t.Fatalf("a letter's id: %v %+v", err, ids)
	}
	shown := run("show", ids.Hits.Hits[0].ID)
	if !strings.Contains(shown, `"text": "2 123456789012 eni-`) || !strings.Contains(shown, `"event_timestamp"`) {
		t.Errorf("show:\n%s", shown)
	}

	t.Setenv("KINFLOW_FLOW_FORMAT_OVERRIDES", group+"=${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} "+
		"${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${tcp-flags}")
	dry := run("redrive", "-log-group", group)
	t.Logf("dry run:\n%s", dry)
	if !strings.Contains(dry, fmt.Sprintf("dry run (nothing written): %d letters", lines)) || !strings.Contains(dry, fmt.Sprintf("%d succeeded, 0 failed", lines)) {
		t.Errorf("dry run report:\n%s", dry)
	}
	if n := testenv.Count(t, url, prefix+"-flows-*"); n != 0 {
		t.Errorf("the dry run wrote %d flows", n)
	}
	done := run("redrive", "-log-group", group, "-dry-run=false")
	t.Logf("redrive:\n%s", done)
	if n := testenv.Count(t, url, prefix+"-flows-*"); n != lines {
		t.Errorf("%d flows after the redrive, want %d", n, lines)
	}
	if err := json.Unmarshal([]byte(run("list", "-json", "-include-redriven")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Groups) != 1 || list.Groups[0].Status != "succeeded" || list.Groups[0].Count != int64(lines) {
		t.Errorf("after the redrive: %+v", list.Groups)
	}
}
