// Package opensearch connects the sink to OpenSearch, self-managed or Amazon OpenSearch Service, with
// opensearch-go (go-elasticsearch refuses to talk to OpenSearch: its product check wants Elasticsearch). Requests
// are signed with AWS SigV4 from aws-sdk-go-v2 credentials when an AWS config is given, else use basic
// authentication; a custom CA is supported. Secrets never reach logs.
package opensearch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/opensearch-project/opensearch-go/v4"
	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"
	"github.com/opensearch-project/opensearch-go/v4/signer/awsv2"

	"github.com/kinflow/kinflow/internal/sink"
)

// AWS services a SigV4 signature can be made for.
const (
	ServiceManaged    = "es"   // Amazon OpenSearch Service domains
	ServiceServerless = "aoss" // OpenSearch Serverless collections
)

// Config configures an OpenSearch sink.
type Config struct {
	Addresses []string // e.g. https://search-flows-abc123.us-east-1.es.amazonaws.com
	Username  string
	Password  string
	// AWS, when set, signs every request with SigV4 using its credentials provider and region (resolved by
	// internal/config with aws-sdk-go-v2's config loader). Basic credentials must then be empty.
	AWS *aws.Config
	// AWSService is the SigV4 service name: es (default) or aoss.
	AWSService   string
	TLS          sink.TLSConfig
	SetupOnStart bool
	Sink         sink.Config
	Templates    sink.TemplateConfig
}

// DefaultConfig returns the local default: http://127.0.0.1:9201, no auth, templates and ISM policies installed on
// start.
func DefaultConfig() Config {
	sc := sink.DefaultConfig()
	sc.Name = "opensearch"
	tc := sink.DefaultTemplateConfig()
	tc.Engine = sink.EngineOpenSearch // the lifecycle API of this engine (sink/lifecycle.go)
	return Config{
		Addresses:    []string{"http://127.0.0.1:9201"},
		AWSService:   ServiceManaged,
		SetupOnStart: true,
		Sink:         sc,
		Templates:    tc,
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	errs := sink.ValidateConnection(c.Addresses, c.Username, c.Password, c.Sink, c.Templates)
	if c.AWS != nil {
		if c.Username != "" {
			errs = append(errs, errors.New("both SigV4 (AWS) and basic credentials set: choose one"))
		}
		if c.AWS.Region == "" {
			errs = append(errs, errors.New("SigV4: AWS config has no region"))
		}
		if c.AWS.Credentials == nil {
			errs = append(errs, errors.New("SigV4: AWS config has no credentials provider"))
		}
	}
	if c.AWSService != ServiceManaged && c.AWSService != ServiceServerless {
		errs = append(errs, fmt.Errorf("AWS service %q: allowed: %s, %s", c.AWSService, ServiceManaged, ServiceServerless))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: opensearch: %w", sink.ErrInvalidConfig, errors.Join(errs...))
}

// String prints the configuration with secrets redacted (the AWS config is reduced to its region).
func (c Config) String() string {
	addrs := sink.RedactURLs(c.Addresses)
	sigv4 := "off"
	if c.AWS != nil {
		sigv4 = c.AWSService + "@" + c.AWS.Region
	}
	return fmt.Sprintf("opensearch{addresses=%v username=%q password=%s sigv4=%s ca=%t insecure=%t prefix=%q}",
		addrs, c.Username, sink.RedactIfSet(c.Password), sigv4, len(c.TLS.CACert) > 0, c.TLS.InsecureSkipVerify, c.Sink.Prefix)
}

// LogValue makes slog print the redacted form.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Client is a sink.Client over opensearch-go. It never retries by itself.
type Client struct {
	os *opensearch.Client
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
	oc := opensearch.Config{
		Addresses:             cfg.Addresses,
		Username:              cfg.Username,
		Password:              cfg.Password,
		Transport:             tr,
		DisableRetry:          true, // the engine retries only what failed, with backoff
		HealthCheckMaxRetries: -1,   // no background probes: the bulk requests are the health check
		DiscoverNodesOnStart:  new(false),
	}
	if cfg.AWS != nil {
		signer, err := awsv2.NewSignerWithService(*cfg.AWS, cfg.AWSService)
		if err != nil {
			return nil, fmt.Errorf("SigV4 signer: %w", err)
		}
		oc.Signer = signer
	}
	c, err := opensearch.NewClient(oc)
	if err != nil {
		return nil, fmt.Errorf("opensearch client: %w", err)
	}
	return &Client{os: c}, nil
}

// Bulk implements sink.Client with the opensearchapi bulk request.
func (c *Client) Bulk(ctx context.Context, body []byte, maxBody int64) (int, []byte, error) {
	req := opensearchapi.BulkReq{Body: bytes.NewReader(body), Params: opensearchapi.BulkParams{FilterPath: filterPath}}
	return c.do(ctx, http.MethodPost, req, maxBody)
}

var filterPath = splitComma(sink.BulkFilterPath)

func splitComma(s string) []string {
	var out []string
	for start, i := 0, 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

// rawRequest is an opensearch.Request for a path of our own (templates).
type rawRequest struct {
	path string
	body []byte
}

func (r rawRequest) GetRequest(method string) (*http.Request, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequest(method, r.path, body)
	if err != nil {
		return nil, err
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// Do implements sink.Client.
func (c *Client) Do(ctx context.Context, method, path string, body []byte, maxBody int64) (int, []byte, error) {
	return c.do(ctx, method, rawRequest{path: path, body: body}, maxBody)
}

func (c *Client) do(ctx context.Context, method string, req opensearch.Request, maxBody int64) (int, []byte, error) {
	res, err := opensearch.Do[opensearch.NoBody](ctx, c.os, method, req, nil)
	if err != nil {
		if res != nil && res.Body != nil {
			res.Body.Close()
		}
		return 0, nil, fmt.Errorf("opensearch %s: %w", method, err)
	}
	return sink.ReadResponse(res.StatusCode, res.Body, maxBody, "opensearch")
}

// New returns a running OpenSearch sink; with cfg.SetupOnStart it first installs the templates.
func New(ctx context.Context, cfg Config, opts sink.Options) (*sink.BulkSink, error) {
	c, err := NewClient(cfg)
	if err != nil {
		return nil, err
	}
	return sink.Open(ctx, c, cfg.SetupOnStart, cfg.Templates, cfg.Sink, opts)
}
