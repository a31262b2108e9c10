// Package assemble builds a ready pipeline from a configuration: AWS clients, the sink's secret, the sink
// (Elasticsearch or OpenSearch), the flow-log format resolver and the pipeline. Both runtimes start this way, so
// the consumer and the Lambda cannot drift apart in how they are wired.
package assemble

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinflow/kinflow/internal/config"
	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/format/vpcflow/flowformats"
	"github.com/kinflow/kinflow/internal/pipeline"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/sink/elastic"
	"github.com/kinflow/kinflow/internal/sink/opensearch"
)

// Parts are what Build made. Close the sink when done.
type Parts struct {
	AWS    aws.Config
	Sink   sink.Sink
	Client sink.Client // the sink's cluster client, for the finalizer's searches
	// Templates is the cluster's template configuration: the prefix and retention the finalizer prunes by.
	Templates sink.TemplateConfig
	Pipeline  *pipeline.Pipeline
	Config    config.Config // c with the secrets loaded
}

// AWSConfig loads the AWS SDK configuration (the default credential chain) for c's region.
func AWSConfig(ctx context.Context, c config.Config) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(c.Region))
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	return cfg, nil
}

// Build makes the sink and the pipeline of c, which must be valid. Metrics go to reg (nil: none).
func Build(ctx context.Context, c config.Config, awsCfg aws.Config, reg prometheus.Registerer, log *slog.Logger) (*Parts, error) {
	if err := LoadSecret(ctx, &c, awsCfg); err != nil {
		return nil, err
	}
	cl, err := ClusterOf(c, awsCfg)
	if err != nil {
		return nil, err
	}
	client := cl.Client
	s, err := sink.Open(ctx, client, cl.Setup, cl.Templates, cl.Bulk, sink.Options{Registerer: reg, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", c.Sink.Kind, err)
	}

	resolver, err := Resolver(c, awsCfg)
	if err != nil {
		return nil, err
	}
	enricher, err := Enricher(ctx, c, awsCfg, reg, log)
	if err != nil {
		return nil, err
	}
	p, err := pipeline.New(c.Pipeline, resolver, s, pipeline.Options{Registerer: reg, Logger: log, Reader: client, Enricher: enricher})
	if err != nil {
		return nil, err
	}
	return &Parts{AWS: awsCfg, Sink: s, Client: client, Templates: cl.Templates, Pipeline: p, Config: c}, nil
}

// Resolver returns the flow-log format resolver of c: its overrides, and EC2 DescribeFlowLogs when discovery is on.
func Resolver(c config.Config, awsCfg aws.Config) (*vpcflow.Resolver, error) {
	var formats vpcflow.FormatSource
	if c.Discovery {
		formats = flowformats.New(ec2.NewFromConfig(awsCfg, func(o *ec2.Options) {
			if c.EC2Endpoint != "" {
				o.BaseEndpoint = aws.String(c.EC2Endpoint)
			}
		}))
	}
	return vpcflow.NewResolver(c.Formats, formats)
}

// A Cluster is the configured cluster's client and what a sink on it is configured with.
type Cluster struct {
	Client    sink.Client
	Setup     bool // install the index templates when the sink opens
	Templates sink.TemplateConfig
	Bulk      sink.Config
}

// ClusterOf makes the client of c's cluster, Elasticsearch or OpenSearch: the one place that tells the kinds apart.
// c's secrets must be loaded (LoadSecret).
func ClusterOf(c config.Config, awsCfg aws.Config) (Cluster, error) {
	ca, err := CA(c)
	if err != nil {
		return Cluster{}, err
	}
	if c.Sink.Kind == config.SinkOpenSearch {
		oc := c.OpenSearch(SigningConfig(c, awsCfg), ca)
		client, err := opensearch.NewClient(oc)
		if err != nil {
			return Cluster{}, fmt.Errorf("connecting to %s: %w", c.Sink.Kind, err)
		}
		return Cluster{client, oc.SetupOnStart, oc.Templates, oc.Sink}, nil
	}
	ec := c.Elastic(ca)
	client, err := elastic.NewClient(ec)
	if err != nil {
		return Cluster{}, fmt.Errorf("connecting to %s: %w", c.Sink.Kind, err)
	}
	return Cluster{client, ec.SetupOnStart, ec.Templates, ec.Sink}, nil
}

// CA returns the PEM certificate authorities named by KINFLOW_SINK_CA_FILE, or nil when none is set.
func CA(c config.Config) ([]byte, error) {
	if c.Sink.CAFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(c.Sink.CAFile)
	if err != nil {
		return nil, fmt.Errorf("reading KINFLOW_SINK_CA_FILE: %w", err)
	}
	return b, nil
}

// SigningConfig returns the AWS configuration that signs OpenSearch requests (SigV4 in the sink's region), or nil
// when c does not sign.
func SigningConfig(c config.Config, awsCfg aws.Config) *aws.Config {
	if c.Sink.SigV4Region == "" {
		return nil
	}
	signed := awsCfg.Copy()
	signed.Region = c.Sink.SigV4Region
	return &signed
}

// LoadSecret fills the sink credentials from Secrets Manager when c names a secret. The secret is JSON with
// username and password, or api_key (the keys the CDK stack and Elastic Cloud use).
func LoadSecret(ctx context.Context, c *config.Config, awsCfg aws.Config) error {
	if c.Sink.SecretARN == "" {
		return nil
	}
	secret, err := readSecret(ctx, *c, awsCfg, "sink", c.Sink.SecretARN)
	if err != nil {
		return err
	}
	var v struct {
		Username string `json:"username"`
		Password string `json:"password"`
		APIKey   string `json:"api_key"`
	}
	if err := json.Unmarshal([]byte(secret), &v); err != nil {
		// The error of json.Unmarshal can quote the input: never wrap it, it is the secret.
		return fmt.Errorf("sink secret %s is not a JSON object with username/password or api_key", c.Sink.SecretARN)
	}
	if v.APIKey == "" && v.Username == "" {
		return errors.New("sink secret " + c.Sink.SecretARN + " holds neither username/password nor api_key")
	}
	c.Sink.Username, c.Sink.Password, c.Sink.APIKey = v.Username, v.Password, v.APIKey
	return nil
}

// readSecret returns the string of the Secrets Manager secret arn; what names it in errors (sink, webhook).
func readSecret(ctx context.Context, c config.Config, awsCfg aws.Config, what, arn string) (string, error) {
	sm := secretsmanager.NewFromConfig(awsCfg, func(o *secretsmanager.Options) {
		if c.SecretsEndpoint != "" {
			o.BaseEndpoint = aws.String(c.SecretsEndpoint)
		}
	})
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &arn})
	if err != nil {
		return "", fmt.Errorf("reading %s secret %s: %w", what, arn, err)
	}
	return aws.ToString(out.SecretString), nil
}
