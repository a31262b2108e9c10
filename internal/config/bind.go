package config

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/settings"
	"github.com/kinflow/kinflow/internal/transport/s3obj"
)

// A binding ties a registry row to the Config field it fills. The row says everything else about the setting.
type binding struct {
	kinds []settings.Kind // the row kinds the field can hold
	get   func(c *Config) string
	set   func(c *Config, v string) error // v has the row's syntax (settings.Setting.CheckSyntax)
	// check says what the row cannot: a flow-log format's grammar. The error is the whole message after the name.
	check func(c *Config) error
}

// bindings maps every runtime setting's variable to its binding; TestBindingsMatchRegistry holds the two to each
// other, row for binding.
func bindings() map[string]binding {
	return map[string]binding{
		settings.SinkKind:        text(func(c *Config) *string { return &c.Sink.Kind }),
		settings.SinkURL:         list(func(c *Config) *[]string { return &c.Sink.URLs }),
		settings.SinkAPIKey:      text(func(c *Config) *string { return &c.Sink.APIKey }),
		settings.SinkUsername:    text(func(c *Config) *string { return &c.Sink.Username }),
		settings.SinkPassword:    text(func(c *Config) *string { return &c.Sink.Password }),
		settings.SinkSecretARN:   text(func(c *Config) *string { return &c.Sink.SecretARN }),
		settings.SinkAWSRegion:   text(func(c *Config) *string { return &c.Sink.SigV4Region }),
		settings.SinkAWSService:  text(func(c *Config) *string { return &c.Sink.SigV4Service }),
		settings.SinkCAFile:      text(func(c *Config) *string { return &c.Sink.CAFile }),
		settings.SinkSetup:       boolean(func(c *Config) *bool { return &c.Sink.Setup }),
		settings.IndexPrefix:     text(func(c *Config) *string { return &c.Pipeline.Prefix }),
		settings.IndexCodec:      text(func(c *Config) *string { return &c.Sink.Codec }),
		settings.BulkMaxBytes:    integer(func(c *Config) *int { return &c.Sink.Bulk.FlushBytes }),
		settings.BulkMaxDocs:     integer(func(c *Config) *int { return &c.Sink.Bulk.FlushDocs }),
		settings.BulkMaxInFlight: integer(func(c *Config) *int { return &c.Sink.Bulk.MaxInFlight }),
		settings.FlowFormat: checked(text(func(c *Config) *string { return &c.Formats.DefaultFormat }),
			func(c *Config) error { _, err := vpcflow.ParseFormat(c.Formats.DefaultFormat); return err }),
		settings.FlowFormatOverrides: {kinds: []settings.Kind{settings.Map},
			get:   func(c *Config) string { return formatOverrides(c.Formats.Overrides) },
			set:   func(c *Config, v string) error { c.Formats.Overrides = parseOverrides(v); return nil },
			check: func(c *Config) error { return checkOverrides(c.Formats.Overrides) }},
		settings.FormatDiscovery:        boolean(func(c *Config) *bool { return &c.Discovery }),
		settings.Window:                 duration(func(c *Config) *time.Duration { return &c.Pipeline.Aggregate.Window }),
		settings.AllowedLateness:        duration(func(c *Config) *time.Duration { return &c.Pipeline.Aggregate.AllowedLateness }),
		settings.MaxExactPeers:          integer(func(c *Config) *int { return &c.Pipeline.Aggregate.MaxExactPeers }),
		settings.MaxDecompressedBytes:   integer(func(c *Config) *int { return &c.Pipeline.Decode.MaxDecompressedBytes }),
		settings.AWSRegion:              text(func(c *Config) *string { return &c.Region }),
		settings.KinesisEndpoint:        text(func(c *Config) *string { return &c.KinesisEndpoint }),
		settings.DynamoDBEndpoint:       text(func(c *Config) *string { return &c.DynamoDBEndpoint }),
		settings.EC2Endpoint:            text(func(c *Config) *string { return &c.EC2Endpoint }),
		settings.SecretsEndpoint:        text(func(c *Config) *string { return &c.SecretsEndpoint }),
		settings.StreamName:             text(func(c *Config) *string { return &c.StreamName }),
		settings.ApplicationName:        text(func(c *Config) *string { return &c.ApplicationName }),
		settings.LeaseTable:             text(func(c *Config) *string { return &c.LeaseTable }),
		settings.WorkerID:               text(func(c *Config) *string { return &c.WorkerID }),
		settings.InitialPosition:        text(func(c *Config) *string { return &c.InitialPosition }),
		settings.MetricsAddr:            text(func(c *Config) *string { return &c.MetricsAddr }),
		settings.ShutdownTimeout:        duration(func(c *Config) *time.Duration { return &c.ShutdownTimeout }),
		settings.LambdaDeadlineReserve:  duration(func(c *Config) *time.Duration { return &c.LambdaDeadlineCut }),
		settings.LambdaHandler:          text(func(c *Config) *string { return &c.LambdaHandler }),
		settings.StateTable:             text(func(c *Config) *string { return &c.StateTable }),
		settings.Finalizer:              boolean(func(c *Config) *bool { return &c.RunFinalizer }),
		settings.FinalizerInterval:      duration(func(c *Config) *time.Duration { return &c.Finalizer.Interval }),
		settings.FinalizerLockLease:     duration(func(c *Config) *time.Duration { return &c.Finalizer.LockLease }),
		settings.MaxDelay:               duration(func(c *Config) *time.Duration { return &c.Finalizer.MaxDelay }),
		settings.IdleAfter:              duration(func(c *Config) *time.Duration { return &c.Finalizer.IdleAfter }),
		settings.CorrectionHorizon:      duration(func(c *Config) *time.Duration { return &c.Finalizer.Horizon }),
		settings.RetentionFlows:         duration(func(c *Config) *time.Duration { return &c.Sink.Retention.Flows }),
		settings.RetentionPartials:      duration(func(c *Config) *time.Duration { return &c.Sink.Retention.Partials }),
		settings.RetentionConns:         duration(func(c *Config) *time.Duration { return &c.Sink.Retention.Conns }),
		settings.RetentionDeadLetters:   duration(func(c *Config) *time.Duration { return &c.Sink.Retention.DeadLetters }),
		settings.WebhookURL:             text(func(c *Config) *string { return &c.Webhook.URL }),
		settings.WebhookFormat:          text(func(c *Config) *string { return &c.Webhook.Format }),
		settings.WebhookSecret:          text(func(c *Config) *string { return &c.Webhook.Secret }),
		settings.WebhookSecretARN:       text(func(c *Config) *string { return &c.Webhook.SecretARN }),
		settings.WebhookTimeout:         duration(func(c *Config) *time.Duration { return &c.Webhook.Timeout }),
		settings.WebhookAttempts:        integer(func(c *Config) *int { return &c.Webhook.Attempts }),
		settings.WebhookChunkIPs:        integer(func(c *Config) *int { return &c.Webhook.ChunkIPs }),
		settings.AlertsWebhookURL:       text(func(c *Config) *string { return &c.AlertsWebhook.URL }),
		settings.AlertsWebhookSecret:    text(func(c *Config) *string { return &c.AlertsWebhook.Secret }),
		settings.AlertsWebhookSecretARN: text(func(c *Config) *string { return &c.AlertsWebhook.SecretARN }),
		settings.RetentionAlerts:        duration(func(c *Config) *time.Duration { return &c.Sink.Retention.Alerts }),
		settings.Detect:                 boolean(func(c *Config) *bool { return &c.Finalizer.Detect.Enabled }),
		settings.DetectAllow:            prefixes(func(c *Config) *[]netip.Prefix { return &c.DetectAllow }),
		settings.DetectBaselineWindows:  integer(func(c *Config) *int { return &c.Finalizer.Detect.BaselineWindows }),
		settings.DetectMinBaseline:      integer(func(c *Config) *int { return &c.Finalizer.Detect.Rules.MinBaselineWindows }),
		settings.DetectEpisodeGap:       integer(func(c *Config) *int { return &c.Finalizer.Detect.EpisodeGap }),
		settings.DetectSampleSize:       integer(func(c *Config) *int { return &c.Finalizer.Detect.Rules.SampleSize }),
		settings.DetectHorizontalPeers:  count(func(c *Config) *uint64 { return &c.Finalizer.Detect.Rules.Horizontal.MinPeers }),
		settings.DetectHorizontalFlows:  count(func(c *Config) *uint64 { return &c.Finalizer.Detect.Rules.Horizontal.MinFlowsSent }),
		settings.DetectHorizontalReject: percent(func(c *Config) *float64 { return &c.Finalizer.Detect.Rules.Horizontal.RejectedShare }),
		settings.DetectHorizontalPorts:  count(func(c *Config) *uint64 { return &c.Finalizer.Detect.Rules.Horizontal.FewPorts }),
		settings.DetectHorizontalAnswer: percent(func(c *Config) *float64 { return &c.Finalizer.Detect.Rules.Horizontal.AnsweredShare }),
		settings.DetectHorizontalAllow:  prefixes(func(c *Config) *[]netip.Prefix { return &c.Finalizer.Detect.Rules.Horizontal.Allow }),
		settings.DetectVerticalPorts:    count(func(c *Config) *uint64 { return &c.Finalizer.Detect.Rules.Vertical.MinPorts }),
		settings.DetectVerticalPeers:    count(func(c *Config) *uint64 { return &c.Finalizer.Detect.Rules.Vertical.MaxPeers }),
		settings.DetectVerticalAllow:    prefixes(func(c *Config) *[]netip.Prefix { return &c.Finalizer.Detect.Rules.Vertical.Allow }),
		settings.DetectRejectMin:        count(func(c *Config) *uint64 { return &c.Finalizer.Detect.Rules.RejectStorm.MinRejected }),
		settings.DetectRejectNewIP:      count(func(c *Config) *uint64 { return &c.Finalizer.Detect.Rules.RejectStorm.NewIPMinRejected }),
		settings.DetectRejectZ:          whole(func(c *Config) *float64 { return &c.Finalizer.Detect.Rules.RejectStorm.MinZ }),
		settings.DetectRejectFactor:     whole(func(c *Config) *float64 { return &c.Finalizer.Detect.Rules.RejectStorm.MinFactor }),
		settings.DetectRejectAllow:      prefixes(func(c *Config) *[]netip.Prefix { return &c.Finalizer.Detect.Rules.RejectStorm.Allow }),
		settings.DetectEgressMin:        count(func(c *Config) *uint64 { return &c.Finalizer.Detect.Rules.Egress.MinBytes }),
		settings.DetectEgressNewIP:      count(func(c *Config) *uint64 { return &c.Finalizer.Detect.Rules.Egress.NewIPMinBytes }),
		settings.DetectEgressZ:          whole(func(c *Config) *float64 { return &c.Finalizer.Detect.Rules.Egress.MinZ }),
		settings.DetectEgressFactor:     whole(func(c *Config) *float64 { return &c.Finalizer.Detect.Rules.Egress.MinFactor }),
		settings.DetectEgressAllow:      prefixes(func(c *Config) *[]netip.Prefix { return &c.Finalizer.Detect.Rules.Egress.Allow }),
		settings.SQSQueueURL:            text(func(c *Config) *string { return &c.Objects.QueueURL }),
		settings.SQSEndpoint:            text(func(c *Config) *string { return &c.Objects.SQSEndpoint }),
		settings.S3Endpoint:             text(func(c *Config) *string { return &c.Objects.S3Endpoint }),
		settings.SQSConcurrency:         integer(func(c *Config) *int { return &c.Objects.Concurrency }),
		settings.SQSVisibility:          duration(func(c *Config) *time.Duration { return &c.Objects.Visibility }),
		settings.S3Routes: {kinds: []settings.Kind{settings.Map},
			get:   func(c *Config) string { return formatRoutes(c.Objects.S3.Overrides) },
			set:   func(c *Config, v string) error { c.Objects.S3.Overrides = parseRoutes(v); return nil },
			check: func(c *Config) error { return checkRoutes(c.Objects.S3) }},
		settings.EnrichAWS:        boolean(func(c *Config) *bool { return &c.Enrich.AWS }),
		settings.EnrichAWSRegions: list(func(c *Config) *[]string { return &c.Enrich.Regions }),
		settings.EnrichAWSRoles:   list(func(c *Config) *[]string { return &c.Enrich.Roles }),
		settings.EnrichRefresh:    duration(func(c *Config) *time.Duration { return &c.Enrich.Refresh }),
		settings.GeoIPCity:        text(func(c *Config) *string { return &c.Enrich.GeoIPCity }),
		settings.GeoIPASN:         text(func(c *Config) *string { return &c.Enrich.GeoIPASN }),
		settings.ThreatLists: {kinds: []settings.Kind{settings.Map},
			get: func(c *Config) string { return formatMap(c.Enrich.Threats) },
			set: func(c *Config, v string) error { c.Enrich.Threats = parseMap(v); return nil }},
		settings.LogLevel:     text(func(c *Config) *string { return &c.LogLevel }),
		settings.ConsoleAddr:  text(func(c *Config) *string { return &c.Console.Addr }),
		settings.ConsoleToken: text(func(c *Config) *string { return &c.Console.Token }),
	}
}

func text(p func(c *Config) *string) binding {
	return binding{kinds: []settings.Kind{settings.String, settings.URL},
		get: func(c *Config) string { return *p(c) },
		set: func(c *Config, v string) error { *p(c) = v; return nil }}
}

func list(p func(c *Config) *[]string) binding {
	return binding{kinds: []settings.Kind{settings.List, settings.URLList},
		get: func(c *Config) string { return strings.Join(*p(c), ",") },
		set: func(c *Config, v string) error { *p(c) = settings.SplitList(v); return nil }}
}

func duration(p func(c *Config) *time.Duration) binding {
	return binding{kinds: []settings.Kind{settings.Duration},
		get: func(c *Config) string { return p(c).String() },
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			*p(c) = d
			return err
		}}
}

func integer(p func(c *Config) *int) binding {
	return binding{kinds: []settings.Kind{settings.Int},
		get: func(c *Config) string { return strconv.Itoa(*p(c)) },
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			*p(c) = n
			return err
		}}
}

func boolean(p func(c *Config) *bool) binding {
	return binding{kinds: []settings.Kind{settings.Bool},
		get: func(c *Config) string { return strconv.FormatBool(*p(c)) },
		set: func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			*p(c) = b
			return err
		}}
}

// count binds an Int row to a count (the row's range keeps it at 0 or more).
func count(p func(c *Config) *uint64) binding {
	return binding{kinds: []settings.Kind{settings.Int},
		get: func(c *Config) string { return strconv.FormatUint(*p(c), 10) },
		set: func(c *Config, v string) error {
			n, err := strconv.ParseUint(v, 10, 64)
			*p(c) = n
			return err
		}}
}

// percent binds an Int row of whole percents to a share from 0 to 1: a user writes 50, the rules read 0.5.
func percent(p func(c *Config) *float64) binding {
	return binding{kinds: []settings.Kind{settings.Int},
		get: func(c *Config) string { return strconv.FormatFloat(math.Round(*p(c)*100), 'f', -1, 64) },
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			*p(c) = float64(n) / 100
			return err
		}}
}

// whole binds an Int row to a float the rules compare with (a z-score, a factor): whole numbers are all a
// threshold of that kind needs.
func whole(p func(c *Config) *float64) binding {
	return binding{kinds: []settings.Kind{settings.Int},
		get: func(c *Config) string { return strconv.FormatFloat(*p(c), 'f', -1, 64) },
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			*p(c) = float64(n)
			return err
		}}
}

// prefixes binds a CIDRs row (its syntax is checked before set) to a list of prefixes.
func prefixes(p func(c *Config) *[]netip.Prefix) binding {
	return binding{kinds: []settings.Kind{settings.CIDRs},
		get: func(c *Config) string {
			parts := make([]string, len(*p(c)))
			for i, x := range *p(c) {
				parts[i] = x.String()
				if x.IsSingleIP() {
					parts[i] = x.Addr().String()
				}
			}
			return strings.Join(parts, ",")
		},
		set: func(c *Config, v string) error {
			*p(c) = nil
			for _, e := range settings.SplitList(v) {
				x, err := settings.ParsePrefix(e)
				if err != nil {
					return err
				}
				*p(c) = append(*p(c), x)
			}
			return nil
		}}
}

func checked(b binding, check func(c *Config) error) binding {
	b.check = check
	return b
}

// parseOverrides reads "group=format;prefix*=format" (the row's syntax is checked). Formats contain spaces and
// '$', never ';' or '='.
func parseOverrides(v string) []vpcflow.Override {
	var out []vpcflow.Override
	for _, part := range strings.Split(v, ";") {
		if match, format, ok := strings.Cut(part, "="); ok {
			out = append(out, vpcflow.Override{Match: strings.TrimSpace(match), Format: strings.TrimSpace(format)})
		}
	}
	return out
}

func formatOverrides(o []vpcflow.Override) string {
	parts := make([]string, len(o))
	for i, x := range o {
		parts[i] = x.Match + "=" + x.Format
	}
	return strings.Join(parts, ";")
}

// checkOverrides says what vpcflow.Config.Validate would of the overrides, by log group instead of by index.
func checkOverrides(o []vpcflow.Override) error {
	var errs []error
	seen := map[string]bool{}
	for _, x := range o {
		m := strings.TrimSuffix(x.Match, "*")
		switch {
		case m == "" && x.Match != "*":
			errs = append(errs, fmt.Errorf("%q: want a log group name or a prefix followed by '*'", x.Match))
		case strings.Contains(m, "*"):
			errs = append(errs, fmt.Errorf("%q: '*' is allowed only at the end", x.Match))
		case seen[x.Match]:
			errs = append(errs, fmt.Errorf("%q appears twice", x.Match))
		}
		seen[x.Match] = true
		var formats []*vpcflow.Format
		for _, s := range strings.Split(x.Format, "|") {
			f, err := vpcflow.ParseFormat(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", x.Match, err))
				break
			}
			formats = append(formats, f)
		}
		if len(formats) == len(strings.Split(x.Format, "|")) {
			if _, err := vpcflow.NewParser(formats...); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", x.Match, err))
			}
		}
	}
	return joinInline(errs)
}

// parseRoutes reads "bucket/prefix=kind;*/prefix=kind;bucket=kind" (the row's syntax is checked).
func parseRoutes(v string) []s3obj.Override {
	var out []s3obj.Override
	for _, part := range strings.Split(v, ";") {
		where, kind, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		bucket, prefix, _ := strings.Cut(strings.TrimSpace(where), "/")
		out = append(out, s3obj.Override{Bucket: bucket, Prefix: prefix, Kind: s3obj.Kind(strings.TrimSpace(kind))})
	}
	return out
}

func formatRoutes(o []s3obj.Override) string {
	parts := make([]string, len(o))
	for i, x := range o {
		parts[i] = x.Bucket
		if x.Prefix != "" {
			parts[i] += "/" + x.Prefix
		}
		parts[i] += "=" + string(x.Kind)
	}
	return strings.Join(parts, ";")
}

// checkRoutes says what s3obj's Validate says of the overrides, on one line.
func checkRoutes(c s3obj.Config) error {
	if err := c.Validate(); err != nil {
		return joinInline([]error{err})
	}
	return nil
}

// parseMap reads "key=value;key=value" (the row's syntax is checked).
func parseMap(v string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(v, ";") {
		if k, val, ok := strings.Cut(part, "="); ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(val)
		}
	}
	return out
}

func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ";")
}

// joinInline joins errors on one line: a setting's problems are one line of the report.
func joinInline(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}
