package console

import (
	"slices"
	"strings"

	"github.com/kinflow/kinflow/internal/console/kql"
	"github.com/kinflow/kinflow/internal/schema"
)

// fieldMaps are the query language's field tables, one per family, built from the field registry: a field the
// registry knows is queried by its index type (an ip field takes CIDRs, a long one ranges).
type fieldMaps struct {
	flows, conns, deadLetters, alerts, lb map[string]string
}

func newFieldMaps() fieldMaps {
	return fieldMaps{flows: kql.Fields(schema.Flows()), conns: kql.Fields(schema.Conns()), deadLetters: kql.Fields(schema.DeadLetters()),
		alerts: kql.Fields(schema.Alerts()), lb: kql.Fields(schema.LoadBalancers())}
}

// names are a family's fields, sorted, for the query bar's suggestions; prefixes of custom fields are left out.
func names(fields map[string]string) []string {
	out := make([]string, 0, len(fields))
	for k := range fields {
		if !strings.HasSuffix(k, ".") && !strings.HasSuffix(k, "_") {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
