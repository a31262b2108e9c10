package kinflowstack

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/kinflow/kinflow/internal/settings"
)

// ContextKeys lists every context key the app reads (`cdk deploy -c key=value`, or "context" in cdk.json): the
// settings registry's keys.
var ContextKeys = settings.ContextKeys()

// Context reads one context value; it is what construct.Node().TryGetContext returns (strings from `-c`, JSON
// values from cdk.json).
type Context func(key string) any

// NodeContext reads context from a construct's node (normally the App).
func NodeContext(app awscdk.App) Context {
	return func(key string) any { return app.Node().TryGetContext(jsii.String(key)) }
}

// FromContext builds Props from DefaultProps and the context, reporting every malformed value at once. Unknown keys
// are not an error (CDK itself keeps feature flags there), but each known key must parse. Every key is read
// through the settings registry: a key it does not declare, or declares of another kind, is an error.
func FromContext(ctx Context) (Props, string, error) {
	p := DefaultProps()
	var errs []error
	rows := settings.ByContext()
	read := func(key string, kinds ...settings.Kind) any {
		if s, ok := rows[key]; !ok || !slices.Contains(kinds, s.Kind) {
			errs = append(errs, fmt.Errorf("%s: the app reads a key the settings registry does not declare as %v", key, kinds))
			return nil
		}
		return ctx(key)
	}
	str := func(key string, dst *string) {
		switch v := read(key, settings.String, settings.URL, settings.URLList).(type) {
		case nil:
		case string:
			*dst = v
		default:
			errs = append(errs, fmt.Errorf("%s: want a string, got %T", key, v))
		}
	}
	num := func(key string, dst *int) {
		switch v := read(key, settings.Int).(type) {
		case nil:
		case float64:
			*dst = int(v)
		case string:
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not an integer", key, v))
				return
			}
			*dst = n
		default:
			errs = append(errs, fmt.Errorf("%s: want a number, got %T", key, v))
		}
	}
	boolean := func(key string, dst *bool) {
		switch v := read(key, settings.Bool).(type) {
		case nil:
		case bool:
			*dst = v
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not true or false", key, v))
				return
			}
			*dst = b
		default:
			errs = append(errs, fmt.Errorf("%s: want true or false, got %T", key, v))
		}
	}
	// list accepts a JSON array (cdk.json), or a string holding a JSON array or comma-separated values (-c).
	list := func(key string, dst *[]string) {
		switch v := read(key, settings.List, settings.CIDRs).(type) {
		case nil:
		case []any:
			out := make([]string, 0, len(v))
			for _, e := range v {
				s, ok := e.(string)
				if !ok {
					errs = append(errs, fmt.Errorf("%s: want strings, got %T", key, e))
					return
				}
				out = append(out, s)
			}
			*dst = out
		case string:
			v = strings.TrimSpace(v)
			if strings.HasPrefix(v, "[") {
				var out []string
				if err := json.Unmarshal([]byte(v), &out); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", key, err))
					return
				}
				*dst = out
				return
			}
			*dst = settings.SplitList(v)
		default:
			errs = append(errs, fmt.Errorf("%s: want a list, got %T", key, v))
		}
	}
	duration := func(key string, dst *time.Duration) {
		var s string
		switch v := read(key, settings.Duration).(type) {
		case nil:
		case string:
			s = v
		default:
			errs = append(errs, fmt.Errorf("%s: want a string, got %T", key, v))
		}
		if s == "" {
			return
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
			return
		}
		*dst = d
	}

	stackName := "Kinflow"
	str("stackName", &stackName)
	var mode, account, region string
	str("mode", &mode)
	if mode != "" {
		p.Mode = Mode(mode)
	}
	str("account", &account)
	str("region", &region)
	if account == "" {
		account = os.Getenv("CDK_DEFAULT_ACCOUNT")
	}
	if region == "" {
		region = os.Getenv("CDK_DEFAULT_REGION")
	}
	if account != "" || region != "" {
		p.StackProps.Env = &awscdk.Environment{}
		if account != "" {
			p.StackProps.Env.Account = jsii.String(account)
		}
		if region != "" {
			p.StackProps.Env.Region = jsii.String(region)
		}
	}

	var streamMode, enc string
	str("streamName", &p.Stream.Name)
	str("streamMode", &streamMode)
	if streamMode != "" {
		p.Stream.Mode = StreamMode(streamMode)
	}
	num("shardCount", &p.Stream.ShardCount)
	num("streamRetentionHours", &p.Stream.RetentionHours)
	str("streamEncryption", &enc)
	if enc != "" {
		p.Stream.Encryption = StreamEncryption(enc)
	}

	list("logGroupNames", &p.Sources.LogGroupNames)
	switch v := read("logGroupFormats", settings.Map).(type) {
	case nil:
	case map[string]any:
		p.Sources.LogGroupFormats = map[string]string{}
		for g, f := range v {
			s, ok := f.(string)
			if !ok {
				errs = append(errs, fmt.Errorf("logGroupFormats[%q]: want a string", g))
				continue
			}
			p.Sources.LogGroupFormats[g] = s
		}
	case string:
		if err := json.Unmarshal([]byte(v), &p.Sources.LogGroupFormats); err != nil {
			errs = append(errs, fmt.Errorf("logGroupFormats: want a JSON object of log group -> format: %w", err))
		}
	default:
		errs = append(errs, fmt.Errorf("logGroupFormats: want an object, got %T", v))
	}
	str("filterPattern", &p.Sources.FilterPattern)
	boolean("accountSubscriptionPolicy", &p.Sources.AccountPolicy)
	list("accountPolicyExclude", &p.Sources.AccountPolicyExclude)
	list("flowLogVpcIds", &p.Sources.FlowLogVPCIDs)
	str("flowLogFormat", &p.Sources.FlowLogFormat)
	str("flowLogGroupName", &p.Sources.FlowLogGroupName)
	num("flowLogRetentionDays", &p.Sources.FlowLogRetentionDays)
	num("flowLogAggregationSeconds", &p.Sources.FlowLogAggregationSeconds)

	s3Sources := read("s3Sources", settings.List)
	if a, ok := s3Sources.([]any); ok { // cdk.json: an array of objects or of compact strings, read as its JSON
		raw, _ := json.Marshal(a)
		s3Sources = string(raw)
	}
	switch v := s3Sources.(type) {
	case nil:
	case string:
		srcs, err := ParseS3Sources(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("s3Sources: %w", err))
		}
		p.S3.Sources = srcs
	default:
		errs = append(errs, fmt.Errorf("s3Sources: want a list, got %T", v))
	}
	boolean("s3NewBucket", &p.S3.NewBucket)
	str("s3KmsKeyArn", &p.S3.KMSKeyARN)
	num("s3MaxReceives", &p.S3.MaxReceives)
	num("s3LambdaMemoryMb", &p.S3.LambdaMemoryMB)
	num("s3LambdaTimeoutSeconds", &p.S3.LambdaTimeoutSeconds)
	num("s3BatchSize", &p.S3.BatchSize)

	str("lambdaZip", &p.Lambda.ZipPath)
	num("lambdaMemoryMb", &p.Lambda.MemoryMB)
	num("lambdaTimeoutSeconds", &p.Lambda.TimeoutSeconds)
	num("batchSize", &p.Lambda.BatchSize)
	num("batchingWindowSeconds", &p.Lambda.BatchingWindowSeconds)
	num("parallelizationFactor", &p.Lambda.ParallelizationFactor)
	num("retryAttempts", &p.Lambda.RetryAttempts)
	num("maxRecordAgeSeconds", &p.Lambda.MaxRecordAgeSeconds)
	boolean("bisectOnError", &p.Lambda.BisectOnError)
	str("startingPosition", &p.Lambda.StartingPosition)
	num("finalizerMemoryMb", &p.Lambda.FinalizerMemoryMB)
	num("finalizerTimeoutSeconds", &p.Lambda.FinalizerTimeout)

	str("consumerImage", &p.Consumer.Image)
	str("consumerDockerDir", &p.Consumer.DockerDir)
	str("consumerDockerfile", &p.Consumer.Dockerfile)
	num("consumerCpu", &p.Consumer.CPU)
	num("consumerMemoryMb", &p.Consumer.MemoryMB)
	num("consumerMinTasks", &p.Consumer.MinTasks)
	num("consumerMaxTasks", &p.Consumer.MaxTasks)
	str("vpcId", &p.Consumer.VPCID)
	num("natGateways", &p.Consumer.NatGateways)
	list("consumerHealthCommand", &p.Consumer.HealthCommand)
	boolean("containerInsights", &p.Consumer.ContainerInsights)

	sink := "existing"
	str("sink", &sink)
	var kind string
	str("sinkKind", &kind)
	if kind != "" {
		p.Sink.Kind = SinkKind(kind)
	}
	str("sinkUrl", &p.Sink.URL)
	str("sinkSecretArn", &p.Sink.SecretARN)
	str("sinkDomainArn", &p.Sink.DomainARN)
	switch sink {
	case "existing":
	case "domain":
		d := DefaultDomain()
		str("domainName", &d.Name)
		str("domainEngineVersion", &d.EngineVersion)
		str("domainInstanceType", &d.InstanceType)
		num("domainInstanceCount", &d.InstanceCount)
		num("domainVolumeGb", &d.VolumeGB)
		str("domainDedicatedMasterType", &d.DedicatedMasterType)
		p.Sink.NewDomain = &d
		if kind == "" {
			p.Sink.Kind = SinkOpenSearch
		}
	default:
		errs = append(errs, fmt.Errorf("sink %q: want existing or domain", sink))
	}

	str("webhookUrl", &p.Webhook.URL)
	str("webhookSecretArn", &p.Webhook.SecretARN)
	str("alertsWebhookUrl", &p.AlertsWebhook.URL)
	str("alertsWebhookSecretArn", &p.AlertsWebhook.SecretARN)
	boolean("detections", &p.Detections.Enabled)
	list("detectAllow", &p.Detections.Allow)
	boolean("enrichAws", &p.Enrich.AWS)
	list("enrichRegions", &p.Enrich.Regions)
	list("enrichRoles", &p.Enrich.Roles)
	duration("enrichRefresh", &p.Enrich.Refresh)
	str("geoipCity", &p.Enrich.GeoIPCity)
	str("geoipAsn", &p.Enrich.GeoIPASN)
	if v := read("threatLists", settings.Map); v != nil {
		lists, err := ParseThreatLists(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("threatLists: %w", err))
		}
		p.Enrich.ThreatLists = lists
	}
	str("indexPrefix", &p.Pipeline.IndexPrefix)
	duration("window", &p.Pipeline.Window)
	duration("allowedLateness", &p.Pipeline.AllowedLateness)
	str("alarmTopicArn", &p.Alarms.TopicARN)
	num("iteratorAgeAlarmMinutes", &p.Alarms.IteratorAgeMinutes)
	num("deadLetterAlarmThreshold", &p.Alarms.DeadLettersPer5Min)
	str("dashboardName", &p.Alarms.DashboardName)
	boolean("retainData", &p.RetainData)
	return p, stackName, errors.Join(errs...)
}

// ParseS3Sources reads the s3Sources context value: a JSON array whose elements are objects
// {"bucket": "b", "prefixes": ["AWSLogs/"], "kind": "alb"} or compact strings, or a comma-separated list of
// compact strings. A compact string is bucket, bucket/prefix or either followed by =kind; the text after the last
// '=' is a kind when it has no '/' (so a Hive-style prefix such as AWSLogs/aws-account-id=1/ stays a prefix). The
// compact entries of one bucket merge into one source per kind. Fields other than bucket, prefixes and kind are
// an error, so that a misspelt "prefix" does not widen a source to its whole bucket.
func ParseS3Sources(v string) ([]S3Source, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	var out []S3Source
	var errs []error
	compact := func(item string) {
		item = strings.TrimSpace(item)
		if item == "" {
			return
		}
		var kind string
		if i := strings.LastIndex(item, "="); i >= 0 && !strings.Contains(item[i+1:], "/") {
			item, kind = item[:i], item[i+1:]
			if kind == "" {
				errs = append(errs, fmt.Errorf("%q: an empty kind after '='", item+"="))
				return
			}
		}
		bucket, prefix, _ := strings.Cut(item, "/")
		for i := range out {
			if out[i].Bucket == bucket && out[i].Kind == kind && out[i].Prefixes != nil && prefix != "" {
				out[i].Prefixes = append(out[i].Prefixes, prefix)
				return
			}
		}
		src := S3Source{Bucket: bucket, Kind: kind}
		if prefix != "" {
			src.Prefixes = []string{prefix}
		}
		out = append(out, src)
	}
	if !strings.HasPrefix(v, "[") {
		for _, item := range strings.Split(v, ",") {
			compact(item)
		}
		return out, errors.Join(errs...)
	}
	var items []json.RawMessage
	if err := json.Unmarshal([]byte(v), &items); err != nil {
		return nil, fmt.Errorf("want a JSON array of {\"bucket\", \"prefixes\", \"kind\"} or of bucket/prefix strings: %w", err)
	}
	for i, raw := range items {
		var str string
		if json.Unmarshal(raw, &str) == nil {
			compact(str)
			continue
		}
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		var src S3Source
		if err := dec.Decode(&src); err != nil {
			errs = append(errs, fmt.Errorf("[%d]: want {\"bucket\", \"prefixes\": [...], \"kind\"}: %w", i, err))
			continue
		}
		out = append(out, src)
	}
	return out, errors.Join(errs...)
}

// ParseThreatLists reads the threatLists context value: a JSON object of name -> source (cdk.json, or a string
// holding one), or the runtimes' own form, name=source;name=source. A source is s3://bucket/key or a path
// (Props.Validate decides which the mode takes). A name given twice is an error.
func ParseThreatLists(v any) (map[string]string, error) {
	out := map[string]string{}
	switch t := v.(type) {
	case map[string]any:
		var errs []error
		for name, src := range t {
			s, ok := src.(string)
			if !ok {
				errs = append(errs, fmt.Errorf("[%q]: want a string, got %T", name, src))
				continue
			}
			out[name] = strings.TrimSpace(s)
		}
		return out, errors.Join(errs...)
	case string:
		t = strings.TrimSpace(t)
		if strings.HasPrefix(t, "{") {
			if err := json.Unmarshal([]byte(t), &out); err != nil {
				return nil, fmt.Errorf("want a JSON object of name -> s3://bucket/key or path: %w", err)
			}
			return out, nil
		}
		var errs []error
		for _, part := range strings.Split(t, ";") {
			if part = strings.TrimSpace(part); part == "" {
				continue
			}
			name, src, ok := strings.Cut(part, "=")
			name, src = strings.TrimSpace(name), strings.TrimSpace(src)
			switch _, dup := out[name]; {
			case !ok || name == "" || src == "":
				errs = append(errs, fmt.Errorf("%q: want name=s3://bucket/key or name=path, separated by ';'", part))
			case dup:
				errs = append(errs, fmt.Errorf("%q: the name %q is given twice", part, name))
			default:
				out[name] = src
			}
		}
		return out, errors.Join(errs...)
	}
	return nil, fmt.Errorf("want an object or name=source;..., got %T", v)
}
