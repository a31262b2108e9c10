package kinflowstack

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
)

// TestNewDestinationDomainWriters: a new domain maps one IAM principal (its master user), so NewDestination refuses
// any other number of writer roles instead of leaving all but one of them to 403 at run time.
func TestNewDestinationDomainWriters(t *testing.T) {
	for name, tc := range map[string]struct {
		writers int
		err     error
	}{
		"none":        {writers: 0, err: ErrDomainWriters},
		"one":         {writers: 1},
		"batch+final": {writers: 2, err: ErrDomainWriters},
	} {
		t.Run(name, func(t *testing.T) {
			st := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("S"), nil)
			var writers []awsiam.IRole
			for i := range tc.writers {
				writers = append(writers, awsiam.NewRole(st, jsii.String(fmt.Sprint("Role", i)), &awsiam.RoleProps{
					AssumedBy: awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
				}))
			}
			d, err := NewDestination(st, "Destination", DestinationProps{
				Sink:    SinkConfig{Kind: SinkOpenSearch, NewDomain: ptr(DefaultDomain())},
				Writers: writers,
			})
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if err == nil && d.Domain == nil {
				t.Error("no domain")
			}
		})
	}
}
