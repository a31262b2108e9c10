package sink

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/kinflow/kinflow/internal/schema"
)

// perIPPartialFields are the partial.* fields the partial indices had before blocks (in per-IP partials), mapped
// already in the indices those versions made.
var perIPPartialFields = []string{"partial.shard_id", "partial.first_sequence", "partial.last_sequence"}

// ExtendPartialMappings adds the block fields (partial.block, partial.hash_*, partial.ips, partial.data) to the
// mappings of the partial indices that exist: an index keeps the mapping it was made with, and one made by a version
// before blocks, under "dynamic": false, would keep a block's head unindexed, so the finalizer would never list the
// blocks written to it on the day of the upgrade. Adding fields is always allowed; a missing index is no error.
func ExtendPartialMappings(ctx context.Context, client Client, c TemplateConfig) error {
	var rows []schema.Field
	for _, r := range schema.Partials().Fields {
		if strings.HasPrefix(r.Name, "partial.") && !slices.Contains(perIPPartialFields, r.Name) {
			rows = append(rows, r)
		}
	}
	body, err := json.Marshal(obj{"properties": properties(schema.Family{Fields: rows})})
	if err != nil {
		return err
	}
	pattern := c.Prefix + "-conns-partial-*"
	rctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	status, resp, err := client.Do(rctx, "PUT", "/"+pattern+"/_mapping?allow_no_indices=true&ignore_unavailable=true", body, 64<<10)
	if err != nil {
		return fmt.Errorf("adding the block fields to %s: %w", pattern, err)
	}
	if status < 200 || status > 299 {
		return fmt.Errorf("adding the block fields to %s: status %d: %s", pattern, status, errorSummary(resp))
	}
	return nil
}
