package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// TemplateConfig shapes the index templates.
type TemplateConfig struct {
	Prefix string
	// Dynamic is the mapping's root "dynamic" setting: "false" (default) keeps fields the templates do not know in
	// _source without indexing them; "strict" refuses such documents (they are dead-lettered), which tests use to
	// catch drift between the encoder and the mappings. "false" is the default because an index lives a day: a
	// new encoder field deployed before the template is updated would otherwise dead-letter the rest of the day.
	Dynamic string
	// Shards and Replicas set index.number_of_shards and number_of_replicas; 0 keeps the cluster's default.
	Shards   int
	Replicas int // -1 keeps the cluster's default
	// Timeout bounds each template request.
	Timeout time.Duration
}

// DefaultTemplateConfig returns prefix kinflow, dynamic false, the cluster's shard and replica defaults.
func DefaultTemplateConfig() TemplateConfig {
	return TemplateConfig{Prefix: DefaultPrefix, Dynamic: "false", Replicas: -1, Timeout: 30 * time.Second}
}

// Validate reports every problem at once.
func (c TemplateConfig) Validate() error {
	var errs []error
	if err := ValidatePrefix(c.Prefix); err != nil {
		errs = append(errs, err)
	}
	if c.Dynamic != "false" && c.Dynamic != "strict" {
		errs = append(errs, fmt.Errorf("dynamic %q: allowed: false, strict", c.Dynamic))
	}
	if c.Shards < 0 || c.Shards > 1024 {
		errs = append(errs, fmt.Errorf("shards %d: allowed 0 (cluster default)..1024", c.Shards))
	}
	if c.Replicas < -1 || c.Replicas > 16 {
		errs = append(errs, fmt.Errorf("replicas %d: allowed -1 (cluster default)..16", c.Replicas))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout %v: must be positive", c.Timeout))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
}

// TemplateVersion is stored in every template's version and _meta; bump it when a mapping changes.
// TemplateVersion history: 2: aws.vpcflow.version is a long, as the encoder writes it (a keyword in 1); 3: the
// record that first delivered a flow, aws.kinesis.shard_id and aws.kinesis.sequence_number.
const TemplateVersion = 3

// A Template is one request of the installation: a component or an index template.
type Template struct {
	Path string // e.g. /_component_template/kinflow-flows-mappings
	Body map[string]any
}

type obj = map[string]any

func typ(t string) obj { return obj{"type": t} }

// dateType accepts the RFC 3339 strings the encoders write, and epoch milliseconds.
func dateType() obj { return obj{"type": "date", "format": "strict_date_optional_time||epoch_millis"} }

func kw() obj { return typ("keyword") }

func props(p obj) obj { return obj{"properties": p} }

// flowProperties are the ECS fields of a raw flow document (internal/format/vpcflow's encoder).
func flowProperties() obj {
	return obj{
		"@timestamp": dateType(),
		"message":    obj{"type": "text", "index": false},
		"ecs":        props(obj{"version": kw()}),
		"event": props(obj{
			"start": dateType(), "end": dateType(), "ingested": dateType(),
			"action": kw(), "outcome": kw(), "type": kw(), "kind": kw(), "category": kw(), "id": kw(),
			"dataset": kw(), "module": kw(), "provider": kw(),
		}),
		"source":      props(obj{"ip": typ("ip"), "port": typ("long"), "address": kw(), "bytes": typ("long"), "packets": typ("long")}),
		"destination": props(obj{"ip": typ("ip"), "port": typ("long"), "address": kw(), "bytes": typ("long"), "packets": typ("long")}),
		"network": props(obj{
			"iana_number": kw(), "transport": kw(), "bytes": typ("long"), "packets": typ("long"),
			"direction": kw(), "type": kw(), "community_id": kw(),
		}),
		"cloud": props(obj{
			"provider": kw(), "region": kw(), "availability_zone": kw(),
			"account":  props(obj{"id": kw()}),
			"instance": props(obj{"id": kw()}),
		}),
		"related": props(obj{"ip": typ("ip")}),
		"aws": props(obj{
			"cloudwatch": props(obj{"log_group": kw(), "log_stream": kw(), "ingestion_time": dateType()}),
			"kinesis":    props(obj{"shard_id": kw(), "sequence_number": kw()}),
			// Flow-log fields by their AWS names. Those not listed here, known or unknown (a new format version), are
			// mapped by the dynamic templates below instead of being lost: strings as keyword, numbers as long.
			"vpcflow": obj{
				"dynamic": true,
				"properties": obj{
					"pkt_srcaddr": typ("ip"), "pkt_dstaddr": typ("ip"),
					"tcp_flags": typ("long"), "tcp_flags_array": kw(),
					"packets_lost_no_route": typ("long"), "packets_lost_blackhole": typ("long"),
					"packets_lost_mtu_exceeded": typ("long"), "packets_lost_ttl_expired": typ("long"),
					"version": typ("long"), "account_id": kw(), "interface_id": kw(), "action": kw(), "log_status": kw(),
				},
			},
		}),
	}
}

func vpcflowDynamicTemplates() []any {
	return []any{
		obj{"vpcflow_packets_lost": obj{"path_match": "aws.vpcflow.packets_lost_*", "mapping": typ("long")}},
		obj{"vpcflow_strings": obj{"path_match": "aws.vpcflow.*", "match_mapping_type": "string", "mapping": obj{"type": "keyword", "ignore_above": 1024}}},
		obj{"vpcflow_numbers": obj{"path_match": "aws.vpcflow.*", "match_mapping_type": "long", "mapping": typ("long")}},
	}
}

// connsProperties are the fields of partial and final connection sets (aggregate/).
func connsProperties() obj {
	counters := func() obj { return props(obj{"sent": typ("long"), "received": typ("long")}) }
	return obj{
		"@timestamp": dateType(),
		"window":     props(obj{"start": dateType(), "end": dateType()}),
		"first_seen": dateType(), "last_seen": dateType(),
		"ip":              typ("ip"),
		"peers":           typ("ip"),
		"peers_count":     typ("long"),
		"peers_estimated": typ("boolean"),
		"peers_sketch":    typ("binary"),
		"dst_ports":       typ("long"),
		"dst_ports_count": typ("long"),
		"flows":           props(obj{"sent": typ("long"), "received": typ("long"), "rejected": typ("long"), "late": typ("long")}),
		"bytes":           counters(),
		"packets":         counters(),
		"partial":         props(obj{"shard_id": kw(), "first_sequence": kw(), "last_sequence": kw()}),
		"revision":        typ("long"),
	}
}

// deadLetterProperties map deadLetterSource. original is text with index false: kept in _source and shown in
// Discover, never analysed, and free of keyword's term-length limit, so a whole bad record fits.
func deadLetterProperties() obj {
	return obj{
		"@timestamp": dateType(),
		"stage":      kw(), "reason": kw(),
		"error":    typ("text"),
		"shard_id": kw(), "sequence_number": kw(), "log_group": kw(), "log_stream": kw(), "event_id": kw(),
		"target_index": kw(), "target_id": kw(),
		"original":          obj{"type": "text", "index": false},
		"original_encoding": kw(),
	}
}

// Templates returns the requests that install kinflow's templates: one component template of mappings per
// document kind, one of settings, and an index template per index pattern composed of them.
func Templates(c TemplateConfig) []Template {
	p := c.Prefix
	meta := obj{"managed_by": "kinflow", "version": TemplateVersion}
	mappings := func(properties obj, dyn []any) obj {
		m := obj{"dynamic": c.Dynamic, "date_detection": false, "numeric_detection": false, "properties": properties}
		if dyn != nil {
			m["dynamic_templates"] = dyn
		}
		return obj{"template": obj{"mappings": m}, "version": TemplateVersion, "_meta": meta}
	}
	settings := obj{}
	if c.Shards > 0 {
		settings["number_of_shards"] = c.Shards
	}
	if c.Replicas >= 0 {
		settings["number_of_replicas"] = c.Replicas
	}
	index := func(pattern string, priority int, components ...string) obj {
		return obj{
			"index_patterns": []string{pattern},
			"composed_of":    components,
			"priority":       priority,
			"version":        TemplateVersion,
			"_meta":          meta,
		}
	}
	return []Template{
		{"/_component_template/" + p + "-settings", obj{"template": obj{"settings": obj{"index": settings}}, "version": TemplateVersion, "_meta": meta}},
		{"/_component_template/" + p + "-flows-mappings", mappings(flowProperties(), vpcflowDynamicTemplates())},
		{"/_component_template/" + p + "-conns-mappings", mappings(connsProperties(), nil)},
		{"/_component_template/" + p + "-deadletter-mappings", mappings(deadLetterProperties(), nil)},
		{"/_index_template/" + p + "-flows", index(p+"-flows-*", 200, p+"-settings", p+"-flows-mappings")},
		// conns-partial-* also matches conns-*: the higher priority wins (both use the same mappings anyway).
		{"/_index_template/" + p + "-conns-partial", index(p+"-conns-partial-*", 210, p+"-settings", p+"-conns-mappings")},
		{"/_index_template/" + p + "-conns", index(p+"-conns-*", 200, p+"-settings", p+"-conns-mappings")},
		{"/_index_template/" + p + "-deadletter", index(p+"-deadletter", 200, p+"-settings", p+"-deadletter-mappings")},
	}
}

// InstallTemplates PUTs every template; PUT replaces, so installing twice (every start-up) is harmless. Component
// templates go first: an index template may only name components that exist.
func InstallTemplates(ctx context.Context, client Client, c TemplateConfig, log *slog.Logger) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if log == nil {
		log = slog.Default()
	}
	for _, t := range Templates(c) {
		body, err := json.Marshal(t.Body)
		if err != nil {
			return fmt.Errorf("encoding template %s: %w", t.Path, err)
		}
		rctx, cancel := context.WithTimeout(ctx, c.Timeout)
		status, resp, err := client.Do(rctx, "PUT", t.Path, body, 64<<10)
		cancel()
		if err != nil {
			return fmt.Errorf("installing template %s: %w", t.Path, err)
		}
		if status < 200 || status > 299 {
			return fmt.Errorf("installing template %s: status %d: %s", t.Path, status, errorSummary(resp))
		}
	}
	log.Info("index templates installed", "prefix", c.Prefix, "version", TemplateVersion, "templates", len(Templates(c)))
	return nil
}

// ReadLimited reads at most limit bytes of r: what Client implementations use for response bodies.
func ReadLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return b, err
	}
	if int64(len(b)) > limit {
		return b[:limit], fmt.Errorf("response larger than %d bytes", limit)
	}
	return b, nil
}

// errorBodyLimit caps the body read from an error answer: it is only logged or stored as a reason.
const errorBodyLimit = 64 << 10

// ReadResponse reads and closes a cluster's answer for a Client: at most maxBody bytes of a success, at most
// 64 KiB of an error (whose body only explains it). product names the cluster in errors.
func ReadResponse(status int, body io.ReadCloser, maxBody int64, product string) (int, []byte, error) {
	defer body.Close()
	failed := status >= 300
	limit := maxBody
	if failed {
		limit = min(limit, errorBodyLimit)
	}
	b, err := ReadLimited(body, limit)
	if err != nil && !failed {
		return 0, nil, fmt.Errorf("reading %s response: %w", product, err)
	}
	return status, b, nil
}

// Open installs the index templates first when setup is set, then starts a bulk sink writing through c.
func Open(ctx context.Context, c Client, setup bool, tc TemplateConfig, cfg Config, opts Options) (*BulkSink, error) {
	if setup {
		if err := InstallTemplates(ctx, c, tc, opts.Logger); err != nil {
			return nil, err
		}
	}
	return New(c, cfg, opts)
}
