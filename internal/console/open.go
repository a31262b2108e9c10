package console

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kinflow/kinflow/internal/assemble"
	"github.com/kinflow/kinflow/internal/config"
)

// Open builds the console of a runtime configuration: the sink's cluster client (URL, API key or basic auth from
// the environment or Secrets Manager, SigV4, CA), and the state store, of KINFLOW_STATE_TABLE or the consumer's
// default (<lease table>-state), as `consumer run` names it. The client is the sink's, so the console reads
// exactly what kinflow writes, with the same credentials, and none of them reach the browser.
func Open(ctx context.Context, c config.Config, awsCfg aws.Config, log *slog.Logger) (*Server, error) {
	if err := assemble.LoadSecret(ctx, &c, awsCfg); err != nil {
		return nil, err
	}
	cl, err := assemble.ClusterOf(c, awsCfg)
	if err != nil {
		return nil, err
	}
	if c.StateTable == "" {
		c.StateTable = c.LeaseTableName() + "-state"
	}
	st, err := assemble.State(c, awsCfg)
	if err != nil {
		return nil, err
	}
	cfg := DefaultConfig()
	cfg.Prefix, cfg.Engine, cfg.Token, cfg.Window = c.Pipeline.Prefix, c.Sink.Kind, c.Console.Token, c.Pipeline.Aggregate.Window
	return New(cfg, cl.Client, st, log)
}
