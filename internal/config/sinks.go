package config

import (
	"net/netip"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kinflow/kinflow/internal/finalize"
	"github.com/kinflow/kinflow/internal/webhook"

	"github.com/kinflow/kinflow/internal/sink/elastic"
	"github.com/kinflow/kinflow/internal/sink/opensearch"
)

// Elastic returns the Elasticsearch sink configuration. caPEM is the content of Sink.CAFile (nil for none).
func (c Config) Elastic(caPEM []byte) elastic.Config {
	e := elastic.DefaultConfig()
	e.Addresses = c.Sink.URLs
	e.APIKey, e.Username, e.Password = c.Sink.APIKey, c.Sink.Username, c.Sink.Password
	e.TLS.CACert = caPEM
	e.SetupOnStart = c.Sink.Setup
	e.Sink = c.Sink.Bulk
	e.Sink.Name = SinkElasticsearch
	e.Sink.Prefix = c.Pipeline.Prefix
	e.Templates.Prefix = c.Pipeline.Prefix
	e.Templates.Retention = c.Sink.Retention
	e.Templates.Codec = c.Sink.Codec
	return e
}

// OpenSearch returns the OpenSearch sink configuration. awsCfg carries the SigV4 credentials and region when
// Sink.SigV4Region is set (nil otherwise); caPEM is the content of Sink.CAFile.
func (c Config) OpenSearch(awsCfg *aws.Config, caPEM []byte) opensearch.Config {
	o := opensearch.DefaultConfig()
	o.Addresses = c.Sink.URLs
	o.Username, o.Password = c.Sink.Username, c.Sink.Password
	o.AWS, o.AWSService = awsCfg, c.Sink.SigV4Service
	o.TLS.CACert = caPEM
	o.SetupOnStart = c.Sink.Setup
	o.Sink = c.Sink.Bulk
	o.Sink.Name = SinkOpenSearch
	o.Sink.Prefix = c.Pipeline.Prefix
	o.Templates.Prefix = c.Pipeline.Prefix
	o.Templates.Retention = c.Sink.Retention
	o.Templates.Codec = c.Sink.Codec
	return o
}

// FinalizerConfig returns the finalizer's configuration: its own settings, with the window, lateness, exact-peer
// cap and index prefix the shard processors use.
func (c Config) FinalizerConfig() finalize.Config {
	f := c.Finalizer
	f.Window, f.AllowedLateness = c.Pipeline.Aggregate.Window, c.Pipeline.Aggregate.AllowedLateness
	f.MaxExactPeers, f.Prefix = c.Pipeline.Aggregate.MaxExactPeers, c.Pipeline.Prefix
	if len(c.DetectAllow) > 0 {
		r := &f.Detect.Rules
		for _, l := range []*[]netip.Prefix{&r.Horizontal.Allow, &r.Vertical.Allow, &r.RejectStorm.Allow, &r.Egress.Allow} {
			*l = append(slices.Clone(c.DetectAllow), *l...)
		}
	}
	return f
}

// AlertsWebhookClientConfig returns the alerts webhook client's configuration: its URL and secret, the webhook's
// timeout and attempts.
func (c Config) AlertsWebhookClientConfig() webhook.Config {
	w := webhook.DefaultConfig()
	w.URL, w.Timeout, w.MaxAttempts = c.AlertsWebhook.URL, c.Webhook.Timeout, c.Webhook.Attempts
	if c.AlertsWebhook.Secret != "" {
		w.Secret = []byte(c.AlertsWebhook.Secret)
	}
	return w
}

// WebhookClientConfig returns the webhook client's configuration (the secret as loaded; see Webhook.SecretARN).
func (c Config) WebhookClientConfig() webhook.Config {
	w := webhook.DefaultConfig()
	w.URL, w.Format, w.Timeout = c.Webhook.URL, webhook.Format(c.Webhook.Format), c.Webhook.Timeout
	w.MaxAttempts, w.ChunkIPs = c.Webhook.Attempts, c.Webhook.ChunkIPs
	if c.Webhook.Secret != "" {
		w.Secret = []byte(c.Webhook.Secret)
	}
	return w
}
