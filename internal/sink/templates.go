package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/kinflow/kinflow/internal/schema"
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
	// Engine chooses the lifecycle API (ILM or ISM); EngineNone installs no policy. The client packages set it.
	Engine Engine
	// Retention is how long each kind of index is kept (lifecycle.go).
	Retention Retention
	// Codec is every index's index.codec: CodecBestCompression, or CodecDefault (or empty) to leave the setting out
	// and keep the engine's default.
	Codec string
}

// The codecs TemplateConfig.Codec takes, as both engines name them.
const (
	// CodecBestCompression compresses stored fields (_source) harder: zstd on Elasticsearch 8.x, DEFLATE on
	// OpenSearch. 22% less disk per flow document than the default, measured on both (BENCHMARKS.md).
	CodecBestCompression = "best_compression"
	// CodecDefault is the engine's default, LZ4: the templates leave index.codec out.
	CodecDefault = "default"
)

// DefaultTemplateConfig returns prefix kinflow, dynamic false, the cluster's shard and replica defaults, and the
// best_compression codec.
func DefaultTemplateConfig() TemplateConfig {
	return TemplateConfig{Prefix: DefaultPrefix, Dynamic: "false", Replicas: -1, Timeout: 30 * time.Second,
		Retention: DefaultRetention(), Codec: CodecBestCompression}
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
	if c.Codec != "" && c.Codec != CodecDefault && c.Codec != CodecBestCompression {
		errs = append(errs, fmt.Errorf("codec %q: allowed: %s, %s", c.Codec, CodecBestCompression, CodecDefault))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout %v: must be positive", c.Timeout))
	}
	if c.Engine != EngineNone && c.Engine != EngineElasticsearch && c.Engine != EngineOpenSearch {
		errs = append(errs, fmt.Errorf("engine %q: allowed: %s, %s, or empty for no lifecycle policy", c.Engine, EngineElasticsearch, EngineOpenSearch))
	}
	if err := c.Retention.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
}

// TemplateVersion is stored in every template's version and _meta; bump it when a mapping changes.
// TemplateVersion history: 2: aws.vpcflow.version is a long, as the encoder writes it (a keyword in 1); 3: the
// record that first delivered a flow, aws.kinesis.shard_id and aws.kinesis.sequence_number; 4: the mappings are
// the registry's (internal/schema): every known aws.vpcflow field is mapped explicitly instead of through the dynamic
// templates, and the 17 fields no encoder writes are gone (message, ecs.version, event.ingested, event.dataset,
// event.module, event.provider, source|destination.address|bytes|packets, network.community_id, cloud.instance.id,
// aws.cloudwatch.ingestion_time, aws.vpcflow.account_id, aws.vpcflow.action); 5: dead letters map event_timestamp
// and the redrive's marks (redrive.status, .at, .flows, .previous_stage, .previous_reason), and on Elasticsearch the
// index templates name their lifecycle policy (index.lifecycle.name, see lifecycle.go); 6: the alerts family
// (<prefix>-alerts-*) and the load-balancer family (<prefix>-lb-*), and flows map log.file.path and log.offset (flow
// logs read from S3); 7: index.codec best_compression (KINFLOW_INDEX_CODEC), and the flows' event.id, event.start,
// event.end, source.port, network.bytes, network.packets, related.ip and aws.kinesis.sequence_number keep doc values
// only ("index": false: still searched, through their doc values), for 36% less disk per flow (BENCHMARKS.md,
// "Storage per document").
const TemplateVersion = 7

// A Template is one request of the installation: a component or an index template.
type Template struct {
	Path string // e.g. /_component_template/kinflow-flows-mappings
	Body map[string]any
}

type obj = map[string]any

// fieldMapping is the mapping of one field of the registry.
func fieldMapping(f schema.Field) obj {
	m := obj{"type": string(f.Type)}
	if f.Type == schema.Date {
		// The RFC 3339 strings the encoders write, and epoch milliseconds.
		m["format"] = "strict_date_optional_time||epoch_millis"
	}
	if f.NotIndexed || f.DocValuesOnly {
		// Not indexed: text, which has no doc values, is then never searched. Doc values only: both engines search
		// a field that has no index through its doc values.
		m["index"] = false
	}
	return m
}

// properties returns the mapping properties of a family, nested as its documents are. The object that holds an Any
// row's prefix is dynamic, so that the fields under it that no row names (a format's fields kinflow does not know)
// are mapped by the dynamic templates instead of being lost.
func properties(f schema.Family) obj {
	root := obj{"properties": obj{}}
	// object returns the mapping of the object at path, made on the way.
	object := func(path []string) obj {
		o := root
		for _, name := range path {
			props := o["properties"].(obj)
			next, ok := props[name].(obj)
			if !ok {
				next = obj{"properties": obj{}}
				props[name] = next
			}
			o = next
		}
		return o
	}
	for _, r := range f.Fields {
		path := strings.Split(r.Name, ".")
		parent := object(path[:len(path)-1])
		if r.Any {
			parent["dynamic"] = true
			continue
		}
		parent["properties"].(obj)[path[len(path)-1]] = fieldMapping(r)
	}
	return root["properties"].(obj)
}

// dynamicTemplates map the fields under the family's Any rows, the longest prefix first (templates apply in
// order): keyword rows take strings only, capped so that a long value is kept in _source rather than refused.
func dynamicTemplates(f schema.Family) []any {
	var rows []schema.Field
	for _, r := range f.Fields {
		if r.Any {
			rows = append(rows, r)
		}
	}
	slices.SortStableFunc(rows, func(a, b schema.Field) int { return len(b.Name) - len(a.Name) })
	var out []any
	for _, r := range rows {
		name := strings.ReplaceAll(strings.Trim(r.Name, "._"), ".", "_") + "_" + string(r.Type)
		t := obj{"path_match": r.Name + "*", "mapping": fieldMapping(r)}
		if r.Type == schema.Keyword {
			t["match_mapping_type"] = "string"
			t["mapping"] = obj{"type": "keyword", "ignore_above": 1024}
		}
		out = append(out, obj{name: t})
	}
	return out
}

// indexPriority ranks an index pattern above the patterns that also match its indices (conns-* matches every
// conns-partial-* index): the more specific template wins.
func indexPriority(pattern string, families []schema.Family) int {
	literal := strings.TrimSuffix(pattern, "*")
	p := 200
	for _, f := range families {
		for _, other := range f.Indices {
			o := strings.TrimSuffix(other, "*")
			if o != literal && strings.HasPrefix(literal, o) && strings.HasSuffix(other, "*") {
				p += 10
			}
		}
	}
	return p
}

// Templates returns the requests that install kinflow's templates: one component template of settings, one of
// mappings per document family of the registry, and an index template per index pattern of a family, composed of
// them.
func Templates(c TemplateConfig) []Template {
	p := c.Prefix
	meta := obj{"managed_by": "kinflow", "version": TemplateVersion}
	mappings := func(f schema.Family) obj {
		m := obj{"dynamic": c.Dynamic, "date_detection": false, "numeric_detection": false, "properties": properties(f)}
		if dyn := dynamicTemplates(f); dyn != nil {
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
	if c.Codec != "" && c.Codec != CodecDefault {
		settings["codec"] = c.Codec
	}
	families := schema.Families()
	out := []Template{{"/_component_template/" + p + "-settings", obj{"template": obj{"settings": obj{"index": settings}}, "version": TemplateVersion, "_meta": meta}}}
	for _, f := range families {
		out = append(out, Template{"/_component_template/" + p + "-" + f.Name + "-mappings", mappings(f)})
	}
	for _, f := range families {
		for _, pattern := range f.Indices {
			body := obj{
				"index_patterns": []string{p + "-" + pattern},
				"composed_of":    []string{p + "-settings", p + "-" + f.Name + "-mappings"},
				"priority":       indexPriority(pattern, families),
				"version":        TemplateVersion,
				"_meta":          meta,
			}
			// The lifecycle setting is the pattern's own (conns-* and conns-partial-* follow different policies),
			// so it sits in the index template rather than the shared settings component.
			if lc := lifecycleSettings(c, pattern); lc != nil {
				body["template"] = obj{"settings": lc}
			}
			out = append(out, Template{"/_index_template/" + p + "-" + patternName(pattern), body})
		}
	}
	return out
}

// InstallTemplates installs the lifecycle policies (lifecycle.go), then PUTs every template; PUT replaces, so
// installing twice (every start-up) is harmless. Policies go first, so that no new index names a policy that does
// not exist yet; component templates before index templates, which may only name components that exist. Then it adds
// the block fields to partial indices made before them (ExtendPartialMappings). Last, it prunes the dead letters
// older than their retention.
func InstallTemplates(ctx context.Context, client Client, c TemplateConfig, log *slog.Logger) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if log == nil {
		log = slog.Default()
	}
	if _, err := InstallPolicies(ctx, client, c, log); errors.Is(err, ErrNoLifecycle) {
		// Ingestion matters more than deletion: the indices are kept, and the templates must not name a policy
		// (an unknown index.lifecycle.name setting would make every new index fail).
		log.Warn("no lifecycle policy installed: indices are never deleted", "engine", string(c.Engine), "error", err)
		c.Engine = EngineNone
	} else if err != nil {
		return err
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
	if err := ExtendPartialMappings(ctx, client, c); err != nil {
		return err
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
