package awsres_test

import (
	"fmt"
	"net/netip"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kinflow/kinflow/internal/enrich/awsres"
)

// The refresher is started once; the hot path only looks up, and a miss is answered at once.
func Example() {
	cfg := awsres.DefaultConfig()
	cfg.Targets = []awsres.Target{
		{Region: "us-east-1"},
		{Region: "eu-west-1", RoleARN: "arn:aws:iam::210987654321:role/kinflow-inventory", ExternalID: "kinflow"},
	}
	inv, err := awsres.New(cfg, awsres.NewClientFactory(aws.Config{}), awsres.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	// In production: inv.Refresh(ctx) once, then go inv.Run(ctx), refreshing every cfg.Interval until ctx ends.

	if r, ok := inv.Lookup(netip.MustParseAddr("10.0.1.17")); ok {
		fmt.Println(r.Kind, r.Name, r.VPCID)
	} else {
		fmt.Println("not in the inventory yet")
	}
	// Output: not in the inventory yet
}
