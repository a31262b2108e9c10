package kinflowstack

import (
	"fmt"
	"strings"
)

// flowLogFields lists every VPC flow-log field with the format version that introduced it, in AWS's order. The
// CDK's LogFormat constants stop at version 7, so the stack writes the format string itself.
var flowLogFields = []struct {
	name    string
	version int
}{
	{"version", 2}, {"account-id", 2}, {"interface-id", 2}, {"srcaddr", 2}, {"dstaddr", 2}, {"srcport", 2},
	{"dstport", 2}, {"protocol", 2}, {"packets", 2}, {"bytes", 2}, {"start", 2}, {"end", 2}, {"action", 2},
	{"log-status", 2},
	{"vpc-id", 3}, {"subnet-id", 3}, {"instance-id", 3}, {"tcp-flags", 3}, {"type", 3}, {"pkt-srcaddr", 3},
	{"pkt-dstaddr", 3},
	{"region", 4}, {"az-id", 4}, {"sublocation-type", 4}, {"sublocation-id", 4},
	{"pkt-src-aws-service", 5}, {"pkt-dst-aws-service", 5}, {"flow-direction", 5}, {"traffic-path", 5},
	{"ecs-cluster-arn", 7}, {"ecs-cluster-name", 7}, {"ecs-container-instance-arn", 7},
	{"ecs-container-instance-id", 7}, {"ecs-container-id", 7}, {"ecs-second-container-id", 7},
	{"ecs-service-name", 7}, {"ecs-task-definition-arn", 7}, {"ecs-task-arn", 7}, {"ecs-task-id", 7},
	{"reject-reason", 8},
}

// FlowLogFormats are the named formats accepted by flowLogFormat: "default" is AWS's default (the 14 version 2
// fields); "vN" is every field up to version N.
var FlowLogFormats = []string{"default", "v2", "v3", "v4", "v5", "v7", "v8"}

// ResolveFlowLogFormat turns a named format or a custom `${field} ...` string into the LogFormat string of the flow
// log, checking every field name.
func ResolveFlowLogFormat(f string) (string, error) {
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
			if fl.version <= upTo {
				if b.Len() > 0 {
					b.WriteByte(' ')
				}
				b.WriteString("${" + fl.name + "}")
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
		if !ok || !knownField(name) {
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

func knownField(name string) bool {
	for _, fl := range flowLogFields {
		if fl.name == name {
			return true
		}
	}
	return false
}
