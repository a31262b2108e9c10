package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// `consumer setup` installs the four index templates for the prefix, in both engines, and running it twice is fine.
func TestSetupInstallsTemplates(t *testing.T) {
	for _, svc := range []testenv.Service{testenv.Elasticsearch, testenv.OpenSearch} {
		t.Run(svc.Name, func(t *testing.T) {
			url := testenv.URL(t, svc)
			prefix := testenv.UniqueName(t, "kfsetup")
			testenv.DropPrefix(t, url, prefix)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var out, errs strings.Builder
			for range 2 {
				err := dispatch(ctx, []string{"setup", "-sink-kind", svc.Name, "-sink-url", url, "-index-prefix", prefix}, nil, &out, &errs)
				if err != nil {
					t.Fatalf("setup: %v\n%s", err, errs.String())
				}
			}
			res, err := http.Get(url + "/_index_template/" + prefix + "-*")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			var got struct {
				IndexTemplates []struct {
					Name string `json:"name"`
				} `json:"index_templates"`
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("%s: %s", err, body)
			}
			names := map[string]bool{}
			for _, it := range got.IndexTemplates {
				names[it.Name] = true
			}
			for _, want := range []string{"-flows", "-conns-partial", "-conns", "-deadletter"} {
				if !names[prefix+want] {
					t.Errorf("template %s%s missing; installed: %v", prefix, want, names)
				}
			}
		})
	}
}
