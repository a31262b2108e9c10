package kinflowstack

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kinflow/kinflow/internal/schema"
)

// TestFlowLogFormatsFollowRegistry: a named format is every field of the runtime's registry a VPC flow log can
// write, up to its version, in the registry's order; transit gateway fields are in none.
func TestFlowLogFormatsFollowRegistry(t *testing.T) {
	for _, name := range FlowLogFormats[1:] {
		var upTo int
		if _, err := fmt.Sscanf(name, "v%d", &upTo); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var want []string
		for _, f := range schema.VPCFlowLogFields() {
			if f.Version <= upTo && f.Resources&schema.VPCResources != 0 {
				want = append(want, "${"+f.Name+"}")
			}
		}
		got, err := ResolveFlowLogFormat(name)
		if err != nil || got != strings.Join(want, " ") {
			t.Errorf("%s: %q, %v\nwant %q", name, got, err, strings.Join(want, " "))
		}
		if strings.Contains(got, "tgw-") || strings.Contains(got, "packets-lost") {
			t.Errorf("%s has transit gateway fields: %s", name, got)
		}
	}
	if _, err := ResolveFlowLogFormat("${srcaddr} ${tgw-id}"); err == nil {
		t.Error("a VPC flow log cannot write ${tgw-id}; no error")
	}
}
