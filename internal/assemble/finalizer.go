package assemble

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinflow/kinflow/internal/config"
	"github.com/kinflow/kinflow/internal/finalize"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/state"
	"github.com/kinflow/kinflow/internal/webhook"
)

// State returns the state store of c.StateTable (required) on c's DynamoDB endpoint.
func State(c config.Config, awsCfg aws.Config) (*state.Store, error) {
	if c.StateTable == "" {
		return nil, errors.New("KINFLOW_STATE_TABLE is required")
	}
	return state.New(DynamoDB(c, awsCfg), c.StateTable)
}

// DynamoDB returns a DynamoDB client on c's endpoint (KINFLOW_DYNAMODB_ENDPOINT, or AWS's).
func DynamoDB(c config.Config, awsCfg aws.Config) *dynamodb.Client {
	return dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if c.DynamoDBEndpoint != "" {
			o.BaseEndpoint = aws.String(c.DynamoDBEndpoint)
		}
	})
}

// Finalizer builds the finalizer over Build's parts: the same cluster and sink, the state store, the webhook when
// one is configured (its key read from Secrets Manager when KINFLOW_WEBHOOK_SECRET_ARN is set), and, when c names a
// stream (consumer mode), the KCL lease table and the stream's shards as the inventory of shards that must report.
func Finalizer(ctx context.Context, p *Parts, store *state.Store, reg prometheus.Registerer, log *slog.Logger) (*finalize.Finalizer, error) {
	c := p.Config
	var wh, alerts *webhook.Client
	if c.Webhook.URL != "" {
		if err := loadWebhookSecret(ctx, c, p.AWS, "webhook", &c.Webhook); err != nil {
			return nil, err
		}
		var err error
		if wh, err = webhook.New(c.WebhookClientConfig(), webhook.Options{Registerer: webhookRegisterer(reg, "connection_sets"), Logger: log}); err != nil {
			return nil, err
		}
	}
	if c.AlertsWebhook.URL != "" {
		if err := loadWebhookSecret(ctx, c, p.AWS, "alerts webhook", &c.AlertsWebhook); err != nil {
			return nil, err
		}
		var err error
		if alerts, err = webhook.New(c.AlertsWebhookClientConfig(), webhook.Options{Registerer: webhookRegisterer(reg, "alerts"), Logger: log}); err != nil {
			return nil, err
		}
	}
	parts := finalize.Parts{Search: p.Client, Sink: p.Sink, State: store, Webhook: wh, Alerts: alerts}
	if p.Templates.Retention.DeadLetters > 0 {
		parts.Prune = func(ctx context.Context) (int, error) { return sink.PruneDeadLetters(ctx, p.Client, p.Templates) }
	}
	if c.StreamName != "" {
		// Consumer mode: the lease table and the stream say which shards must report before windows close.
		leases, err := state.NewLeaseTable(DynamoDB(c, p.AWS), c.LeaseTableName())
		if err != nil {
			return nil, err
		}
		parts.Leases = &consumerShards{leases: leases, kinesis: Kinesis(c, p.AWS), stream: c.StreamName}
	}
	return finalize.New(c.FinalizerConfig(), parts, finalize.Options{Registerer: reg, Logger: log})
}

// webhookRegisterer labels a webhook client's metrics with the webhook it posts to, so that both clients register
// the same metrics side by side.
func webhookRegisterer(reg prometheus.Registerer, name string) prometheus.Registerer {
	if reg == nil {
		return nil
	}
	return prometheus.WrapRegistererWith(prometheus.Labels{"webhook": name}, reg)
}

// loadWebhookSecret reads a webhook's HMAC key when its secret ARN is set: the secret string itself, or a JSON
// object's "secret" field. what names the webhook in errors.
func loadWebhookSecret(ctx context.Context, c config.Config, awsCfg aws.Config, what string, w *config.WebhookConfig) error {
	if w.SecretARN == "" {
		return nil
	}
	v, err := readSecret(ctx, c, awsCfg, what, w.SecretARN)
	if err != nil {
		return err
	}
	if strings.HasPrefix(strings.TrimSpace(v), "{") {
		var obj struct {
			Secret string `json:"secret"`
		}
		// Never wrap the decoding error: it can quote the secret.
		if json.Unmarshal([]byte(v), &obj) != nil || obj.Secret == "" {
			return fmt.Errorf("%s secret %s: a JSON secret needs a non-empty \"secret\" field", what, w.SecretARN)
		}
		v = obj.Secret
	}
	if v == "" {
		return fmt.Errorf("%s secret %s is empty", what, w.SecretARN)
	}
	w.Secret = v
	return nil
}
