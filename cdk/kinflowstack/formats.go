package kinflowstack

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kinflow/kinflow/internal/schema"
)

// flowLogFields are the fields a VPC flow log can write (transit gateway fields are not among them), with the
// version that introduced each, in AWS's order: the registry's, which the runtime parses with. The CDK's LogFormat
// constants stop at version 7, so the stack writes the format string itself.
var flowLogFields = vpcFlowLogFields()

func vpcFlowLogFields() []schema.FlowLogField {
	var out []schema.FlowLogField
	for _, f := range schema.VPCFlowLogFields() {
		if f.Resources&schema.VPCResources != 0 {
			out = append(out, f)
		}
	}
	return out
}

// FlowLogFormats are the named formats accepted by flowLogFormat: "default" is AWS's default (the 14 version 2
// fields); "vN" is every field up to version N.
var FlowLogFormats = []string{"default", "v2", "v3", "v4", "v5", "v7", "v8"}

// ResolveFlowLogFormat turns a named format or a custom `${field} ...` string into the LogFormat string of a VPC
// flow log the stack creates, checking every field name.
func ResolveFlowLogFormat(f string) (string, error) { return resolveFormat(f, flowLogFields) }

// ResolveLogGroupFormat is ResolveFlowLogFormat for the format of an existing log group, which a transit gateway's
// flow log may write too: its fields are known as well.
func ResolveLogGroupFormat(f string) (string, error) {
	return resolveFormat(f, schema.VPCFlowLogFields())
}

func resolveFormat(f string, known []schema.FlowLogField) (string, error) {
	f = strings.TrimSpace(f)
	if f == "default" {
		f = "v2"
	}
	var upTo int
	if _, err := fmt.Sscanf(f, "v%d", &upTo); err == nil && fmt.Sprintf("v%d", upTo) == f {
		if upTo < 2 || upTo > 8 || upTo == 6 {
			return "", fmt.Errorf("%q: want one of %v or a custom ${field} list", f, FlowLogFormats)
		}
		var b strings.Builder
		for _, fl := range flowLogFields {
			if fl.Version <= upTo {
				if b.Len() > 0 {
					b.WriteByte(' ')
				}
				b.WriteString("${" + fl.Name + "}")
			}
		}
		return b.String(), nil
	}
	words := strings.Fields(f)
	if len(words) == 0 {
		return "", fmt.Errorf("empty: want one of %v or a custom ${field} list", FlowLogFormats)
	}
	seen := map[string]bool{}
	var unknown []string
	for _, w := range words {
		name, ok := strings.CutPrefix(w, "${")
		if ok {
			name, ok = strings.CutSuffix(name, "}")
		}
		if !ok || !slices.ContainsFunc(known, func(fl schema.FlowLogField) bool { return fl.Name == name }) {
			unknown = append(unknown, w)
			continue
		}
		if seen[name] {
			return "", fmt.Errorf("field %s appears twice", w)
		}
		seen[name] = true
	}
	if len(unknown) > 0 {
		return "", fmt.Errorf("unknown fields %v: want ${name} with a name of a flow-log field (version 2 to 8)", unknown)
	}
	return strings.Join(words, " "), nil
}
