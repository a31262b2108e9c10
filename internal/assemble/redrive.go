package assemble

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinflow/kinflow/internal/config"
	"github.com/kinflow/kinflow/internal/redrive"
)

// Redriver builds the dead-letter redriver of c: the same cluster, bulk settings, pipeline settings and format
// resolver (overrides, discovery) as Build's pipeline, so a redrive runs what the runtimes run today. Close it
// when done.
func Redriver(ctx context.Context, c config.Config, awsCfg aws.Config, reg prometheus.Registerer, log *slog.Logger) (*redrive.Redriver, error) {
	if err := LoadSecret(ctx, &c, awsCfg); err != nil {
		return nil, err
	}
	cl, err := ClusterOf(c, awsCfg)
	if err != nil {
		return nil, err
	}
	resolver, err := Resolver(c, awsCfg)
	if err != nil {
		return nil, err
	}
	return redrive.New(redrive.DefaultConfig(), redrive.Parts{Client: cl.Client, Bulk: cl.Bulk, Pipeline: c.Pipeline,
		Resolver: resolver}, redrive.Options{Registerer: reg, Logger: log})
}
