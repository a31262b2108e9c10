// Package flowformats discovers the format of a log group's VPC flow logs from EC2: DescribeFlowLogs names, for
// each flow log, the log group it delivers to and its LogFormat. It implements vpcflow.FormatSource; the
// vpcflow.Resolver caches its answers.
package flowformats

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/kinflow/kinflow/internal/format/vpcflow"
)

// DescribeFlowLogsAPI is the part of the EC2 client this package uses.
type DescribeFlowLogsAPI interface {
	DescribeFlowLogs(ctx context.Context, in *ec2.DescribeFlowLogsInput, opts ...func(*ec2.Options)) (*ec2.DescribeFlowLogsOutput, error)
}

// EC2 is a vpcflow.FormatSource backed by EC2.
type EC2 struct{ api DescribeFlowLogsAPI }

var _ vpcflow.FormatSource = (*EC2)(nil)

// New returns a source that asks api.
func New(api DescribeFlowLogsAPI) *EC2 { return &EC2{api: api} }

// maxPages bounds one lookup (1000 flow logs per page).
const maxPages = 20

// LogFormats returns the distinct LogFormats of the flow logs that deliver to logGroup in CloudWatch Logs, in the
// order EC2 lists them; none when no flow log does. Errors EC2 will repeat (access denied) are permanent.
func (s *EC2) LogFormats(ctx context.Context, logGroup string) ([]string, error) {
	in := &ec2.DescribeFlowLogsInput{
		Filter: []types.Filter{
			{Name: aws.String("log-group-name"), Values: []string{logGroup}},
			{Name: aws.String("log-destination-type"), Values: []string{string(types.LogDestinationTypeCloudWatchLogs)}},
		},
		MaxResults: aws.Int32(1000),
	}
	var formats []string
	seen := map[string]bool{}
	p := ec2.NewDescribeFlowLogsPaginator(s.api, in)
	for page := 0; p.HasMorePages() && page < maxPages; page++ {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, classify(err)
		}
		for _, fl := range out.FlowLogs {
			// The filter is applied again here: not every implementation honours both filters.
			if aws.ToString(fl.LogGroupName) != logGroup ||
				fl.LogDestinationType != "" && fl.LogDestinationType != types.LogDestinationTypeCloudWatchLogs {
				continue
			}
			f := aws.ToString(fl.LogFormat)
			if f == "" {
				f = vpcflow.DefaultFormatString
			}
			if !seen[f] {
				seen[f] = true
				formats = append(formats, f)
			}
		}
	}
	return formats, nil
}

// PermanentError is an EC2 answer that retrying will not change (missing permission, bad request).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string   { return fmt.Sprintf("flowformats: %v", e.Err) }
func (e *PermanentError) Unwrap() error   { return e.Err }
func (e *PermanentError) Permanent() bool { return true }

func classify(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "UnauthorizedOperation", "AccessDenied", "AccessDeniedException", "AuthFailure", "InvalidParameterValue",
			"InvalidParameter", "OptInRequired":
			return &PermanentError{Err: err}
		}
	}
	return fmt.Errorf("flowformats: DescribeFlowLogs: %w", err)
}
