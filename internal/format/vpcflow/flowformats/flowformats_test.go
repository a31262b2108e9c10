package flowformats

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/kinflow/kinflow/internal/format/vpcflow"
)

type fakeEC2 struct {
	pages []*ec2.DescribeFlowLogsOutput
	err   error
	calls int
}

func (f *fakeEC2) DescribeFlowLogs(_ context.Context, in *ec2.DescribeFlowLogsInput, _ ...func(*ec2.Options)) (*ec2.DescribeFlowLogsOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	f.calls++
	return f.pages[f.calls-1], nil
}

func TestLogFormats(t *testing.T) {
	fl := func(group, format string, dest types.LogDestinationType) types.FlowLog {
		return types.FlowLog{LogGroupName: aws.String(group), LogFormat: aws.String(format), LogDestinationType: dest}
	}
	api := &fakeEC2{pages: []*ec2.DescribeFlowLogsOutput{
		{FlowLogs: []types.FlowLog{fl("/g", "${srcaddr}", types.LogDestinationTypeCloudWatchLogs), fl("/other", "${x}", "")}, NextToken: aws.String("2")},
		{FlowLogs: []types.FlowLog{fl("/g", "", ""), fl("/g", "${srcaddr}", ""), fl("/g", "${y}", types.LogDestinationTypeS3)}},
	}}
	got, err := New(api).LogFormats(context.Background(), "/g")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"${srcaddr}", vpcflow.DefaultFormatString}; !slices.Equal(got, want) || api.calls != 2 {
		t.Fatalf("LogFormats = %q after %d pages, want %q", got, api.calls, want)
	}
}

func TestErrors(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "UnauthorizedOperation", Message: "no"}
	_, err := New(&fakeEC2{err: denied}).LogFormats(context.Background(), "/g")
	var pe *PermanentError
	if !errors.As(err, &pe) || !pe.Permanent() || !errors.Is(err, denied) {
		t.Fatalf("access denied: %v", err)
	}
	throttled := &smithy.GenericAPIError{Code: "RequestLimitExceeded"}
	_, err = New(&fakeEC2{err: throttled}).LogFormats(context.Background(), "/g")
	if errors.As(err, &pe) || !errors.Is(err, throttled) {
		t.Fatalf("throttling: %v", err)
	}
}
