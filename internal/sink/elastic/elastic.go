// Package elastic connects the sink to Elasticsearch (Elastic Cloud or self-managed) with go-elasticsearch v8:
// its bulk API for writes, API key or basic authentication, a custom CA. Secrets never reach logs: Config's String
// and LogValue redact them.
package elastic

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/kinflow/kinflow/internal/sink"
)

// Config configures an Elasticsearch sink.
type Config struct {
	Addresses []string // e.g. https://my-deployment.es.us-east-1.aws.elastic-cloud.com:443
	// APIKey is the base64 "id:key" credential Elasticsearch hands out (the encoded field of the create API key
	// answer). It takes precedence over Username/Password.
	APIKey   string
	Username string
	Password string
	TLS      sink.TLSConfig
	// SetupOnStart installs the index templates when the sink is created.
	SetupOnStart bool
	Sink         sink.Config
	Templates    sink.TemplateConfig
}

// DefaultConfig returns the local default: http://127.0.0.1:9200, no auth, templates and ILM policies installed on
// start.
func DefaultConfig() Config {
	sc := sink.DefaultConfig()
	sc.Name = "elasticsearch"
	tc := sink.DefaultTemplateConfig()
	tc.Engine = sink.EngineElasticsearch // the lifecycle API of this engine (sink/lifecycle.go)
	return Config{
		Addresses:    []string{"http://127.0.0.1:9200"},
		SetupOnStart: true,
		Sink:         sc,
		Templates:    tc,
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	errs := sink.ValidateConnection(c.Addresses, c.Username, c.Password, c.Sink, c.Templates)
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: elasticsearch: %w", sink.ErrInvalidConfig, errors.Join(errs...))
}

// String prints the configuration with secrets redacted.
func (c Config) String() string {
	addrs := sink.RedactURLs(c.Addresses)
	return fmt.Sprintf("elasticsearch{addresses=%v api_key=%s username=%q password=%s ca=%t insecure=%t prefix=%q}",
		addrs, sink.RedactIfSet(c.APIKey), c.Username, sink.RedactIfSet(c.Password), len(c.TLS.CACert) > 0,
		c.TLS.InsecureSkipVerify, c.Sink.Prefix)
}

// LogValue makes slog print the redacted form.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Client is a sink.Client over go-elasticsearch. It never retries by itself.
type Client struct {
	es *elasticsearch.Client
}

var _ sink.Client = (*Client)(nil)

// NewClient returns a client for cfg's cluster and credentials.
func NewClient(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tr, err := sink.HTTPTransport(cfg.TLS, cfg.Sink.MaxInFlight)
	if err != nil {
		return nil, err
	}
	es, err := elasticsearch.NewClient(elasticsearch.Config{
		Addresses:    cfg.Addresses,
		APIKey:       cfg.APIKey,
		Username:     cfg.Username,
		Password:     cfg.Password,
		Transport:    tr,
		DisableRetry: true, // the engine retries only what failed, with backoff
	})
	if err != nil {
		return nil, fmt.Errorf("elasticsearch client: %w", err)
	}
	return &Client{es: es}, nil
}

var filterPath = strings.Split(sink.BulkFilterPath, ",")

// Bulk implements sink.Client with the esapi bulk request.
func (c *Client) Bulk(ctx context.Context, body []byte, maxBody int64) (int, []byte, error) {
	res, err := esapi.BulkRequest{Body: bytes.NewReader(body), FilterPath: filterPath}.Do(ctx, c.es)
	if err != nil {
		return 0, nil, fmt.Errorf("elasticsearch bulk: %w", err)
	}
	return sink.ReadResponse(res.StatusCode, res.Body, maxBody, "elasticsearch")
}

// Do implements sink.Client.
func (c *Client) Do(ctx context.Context, method, path string, body []byte, maxBody int64) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.es.Perform(req)
	if err != nil {
		return 0, nil, fmt.Errorf("elasticsearch %s %s: %w", method, path, err)
	}
	return sink.ReadResponse(res.StatusCode, res.Body, maxBody, "elasticsearch")
}

// New returns a running Elasticsearch sink; with cfg.SetupOnStart it first installs the templates.
func New(ctx context.Context, cfg Config, opts sink.Options) (*sink.BulkSink, error) {
	c, err := NewClient(cfg)
	if err != nil {
		return nil, err
	}
	return sink.Open(ctx, c, cfg.SetupOnStart, cfg.Templates, cfg.Sink, opts)
}
