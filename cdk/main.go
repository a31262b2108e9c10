// Command cdk is kinflow's AWS CDK app: `cdk deploy` from the repository root (cdk.json) builds the stack of
// kinflowstack from the context, in lambda or consumer mode. See README.md, "Deploy (AWS CDK)".
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/kinflow/kinflow/cdk/kinflowstack"
)

func main() {
	defer jsii.Close()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kinflow cdk:", err)
		os.Exit(1)
	}
}

func run() error {
	app := awscdk.NewApp(nil)
	props, stackName, err := kinflowstack.FromContext(kinflowstack.NodeContext(app))
	if err != nil {
		return fmt.Errorf("reading context: %w", err)
	}
	if _, err := kinflowstack.NewKinflowStack(app, stackName, props); err != nil {
		return err
	}
	app.Synth(nil)
	return nil
}
