package kinflowstack

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// SubscriptionsProps says which log groups feed the stream.
type SubscriptionsProps struct {
	Stream *Stream
	// LogGroups are log group names (or tokens of groups the stack creates) that get one filter each.
	LogGroups     []*string
	FilterPattern string
	// AccountPolicy, when set, also creates an account-level subscription filter policy; Exclude lists the log
	// groups it must skip (kinflow's own logs, or the stream would feed itself).
	AccountPolicy bool
	Exclude       []*string
}

// Subscriptions owns the role CloudWatch Logs assumes to put into the stream, and the filters that use it.
type Subscriptions struct {
	constructs.Construct
	Role    awsiam.Role
	Filters []awslogs.CfnSubscriptionFilter
	Policy  awslogs.CfnAccountPolicy
}

// NewSubscriptions creates the role (trusted by logs.amazonaws.com, only for this account and region) and the
// subscription filters.
func NewSubscriptions(scope constructs.Construct, id string, p SubscriptionsProps) *Subscriptions {
	c := constructs.NewConstruct(scope, jsii.String(id))
	s := &Subscriptions{Construct: c}
	s.Role = awsiam.NewRole(c, jsii.String("Role"), &awsiam.RoleProps{
		Description: jsii.String("kinflow: lets CloudWatch Logs put subscription data into the stream"),
		AssumedBy: awsiam.NewPrincipalWithConditions(awsiam.NewServicePrincipal(jsii.String("logs.amazonaws.com"), nil),
			&map[string]interface{}{
				"StringLike": map[string]interface{}{
					"aws:SourceArn": awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:*"), nil),
				},
			}),
	})
	s.Role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("kinesis:PutRecord", "kinesis:PutRecords"),
		Resources: &[]*string{p.Stream.Stream.StreamArn()},
	}))
	if p.Stream.Key != nil {
		p.Stream.Key.Grant(s.Role, jsii.String("kms:GenerateDataKey"))
	}
	for i, g := range p.LogGroups {
		f := awslogs.NewCfnSubscriptionFilter(c, jsii.String(fmt.Sprintf("Filter%d", i)), &awslogs.CfnSubscriptionFilterProps{
			LogGroupName:   g,
			FilterName:     jsii.String("kinflow"),
			FilterPattern:  jsii.String(p.FilterPattern),
			DestinationArn: p.Stream.Stream.StreamArn(),
			RoleArn:        s.Role.RoleArn(),
			Distribution:   jsii.String("Random"),
		})
		// CloudWatch Logs tests the destination when the filter is created: the role's policy must exist first.
		f.Node().AddDependency(policyOf(s.Role))
		s.Filters = append(s.Filters, f)
	}
	if p.AccountPolicy {
		stack := awscdk.Stack_Of(c)
		doc := stack.ToJsonString(map[string]interface{}{
			"DestinationArn": p.Stream.Stream.StreamArn(),
			"RoleArn":        s.Role.RoleArn(),
			"FilterPattern":  p.FilterPattern,
			"Distribution":   "Random",
		}, nil)
		props := &awslogs.CfnAccountPolicyProps{
			PolicyName:     jsii.String("kinflow-" + *stack.StackName()),
			PolicyType:     jsii.String("SUBSCRIPTION_FILTER_POLICY"),
			PolicyDocument: doc,
			Scope:          jsii.String("ALL"),
		}
		if len(p.Exclude) > 0 {
			names := make([]string, len(p.Exclude))
			for i, g := range p.Exclude {
				names[i] = *g // tokens stay tokens inside the string; CloudFormation joins them
			}
			props.SelectionCriteria = jsii.String(`LogGroupName NOT IN ["` + strings.Join(names, `", "`) + `"]`)
		}
		s.Policy = awslogs.NewCfnAccountPolicy(c, jsii.String("AccountPolicy"), props)
		s.Policy.Node().AddDependency(policyOf(s.Role))
	}
	return s
}

// FlowLogsProps says which VPCs to log, and how.
type FlowLogsProps struct {
	VPCIDs             []string
	Format             string // resolved `${field} ...` string
	LogGroupName       string
	RetentionDays      int
	AggregationSeconds int
	Retain             bool
}

// FlowLogs owns the flow-log group, the role the flow-logs service assumes to write it, and one flow log per VPC.
type FlowLogs struct {
	constructs.Construct
	LogGroup awslogs.LogGroup
	Role     awsiam.Role
	FlowLogs []awsec2.CfnFlowLog
}

// NewFlowLogs creates flow logs for every VPC into one log group, in the given format.
func NewFlowLogs(scope constructs.Construct, id string, p FlowLogsProps) *FlowLogs {
	c := constructs.NewConstruct(scope, jsii.String(id))
	f := &FlowLogs{Construct: c}
	lg := &awslogs.LogGroupProps{
		Retention:     retention(p.RetentionDays),
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	}
	if p.Retain {
		lg.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	}
	if p.LogGroupName != "" {
		lg.LogGroupName = jsii.String(p.LogGroupName)
	}
	f.LogGroup = awslogs.NewLogGroup(c, jsii.String("LogGroup"), lg)
	f.Role = awsiam.NewRole(c, jsii.String("Role"), &awsiam.RoleProps{
		Description: jsii.String("kinflow: lets the VPC flow-logs service write the flow-log group"),
		AssumedBy: awsiam.NewPrincipalWithConditions(awsiam.NewServicePrincipal(jsii.String("vpc-flow-logs.amazonaws.com"), nil),
			&map[string]interface{}{
				"StringEquals": map[string]interface{}{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
				"ArnLike": map[string]interface{}{
					"aws:SourceArn": awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:vpc-flow-log/*"), nil),
				},
			}),
	})
	f.Role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"),
		Resources: &[]*string{f.LogGroup.LogGroupArn()},
	}))
	for _, vpc := range p.VPCIDs {
		fl := awsec2.NewCfnFlowLog(c, jsii.String("FlowLog-"+vpc), &awsec2.CfnFlowLogProps{
			ResourceId:               jsii.String(vpc),
			ResourceType:             jsii.String("VPC"),
			TrafficType:              jsii.String("ALL"),
			LogDestinationType:       jsii.String("cloud-watch-logs"),
			LogGroupName:             f.LogGroup.LogGroupName(),
			DeliverLogsPermissionArn: f.Role.RoleArn(),
			LogFormat:                jsii.String(p.Format),
			MaxAggregationInterval:   jsii.Number(p.AggregationSeconds),
		})
		fl.Node().AddDependency(policyOf(f.Role))
		f.FlowLogs = append(f.FlowLogs, fl)
	}
	return f
}

// retention maps a day count (one of logRetentionDays) to the CDK enum.
func retention(days int) awslogs.RetentionDays {
	names := []awslogs.RetentionDays{
		awslogs.RetentionDays_ONE_DAY, awslogs.RetentionDays_THREE_DAYS, awslogs.RetentionDays_FIVE_DAYS,
		awslogs.RetentionDays_ONE_WEEK, awslogs.RetentionDays_TWO_WEEKS, awslogs.RetentionDays_ONE_MONTH,
		awslogs.RetentionDays_TWO_MONTHS, awslogs.RetentionDays_THREE_MONTHS, awslogs.RetentionDays_FOUR_MONTHS,
		awslogs.RetentionDays_FIVE_MONTHS, awslogs.RetentionDays_SIX_MONTHS, awslogs.RetentionDays_ONE_YEAR,
		awslogs.RetentionDays_THIRTEEN_MONTHS, awslogs.RetentionDays_EIGHTEEN_MONTHS, awslogs.RetentionDays_TWO_YEARS,
		awslogs.RetentionDays_THREE_YEARS, awslogs.RetentionDays_FIVE_YEARS, awslogs.RetentionDays_SIX_YEARS,
		awslogs.RetentionDays_SEVEN_YEARS, awslogs.RetentionDays_EIGHT_YEARS, awslogs.RetentionDays_NINE_YEARS,
		awslogs.RetentionDays_TEN_YEARS,
	}
	for i, d := range logRetentionDays {
		if d == days {
			return names[i]
		}
	}
	return awslogs.RetentionDays_ONE_WEEK
}

// policyOf is the role's default policy: what a resource that the service tests at creation must wait for (the
// role itself is already a dependency through its ARN).
func policyOf(role awsiam.Role) constructs.IConstruct {
	return role.Node().FindChild(jsii.String("DefaultPolicy"))
}
