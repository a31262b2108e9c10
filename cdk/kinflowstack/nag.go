package kinflowstack

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Suppression is a cdk-nag finding accepted with a written reason. AppliesTo narrows it to named findings (an
// IAM5 wildcard, an IAM4 managed policy), written as cdk-nag 3 names them: "Rule[finding]".
type Suppression struct {
	ID        string
	Reason    string
	AppliesTo []string
}

// suppress records suppressions in the `cdk_nag` metadata of every CloudFormation resource under c, the format
// cdk-nag's NagSuppressions writes and its rule packs read, so the checks honour them whether they run on the
// construct tree or on the synthesized template.
func suppress(c constructs.IConstruct, ss ...Suppression) {
	for _, child := range *c.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		res, ok := child.(awscdk.CfnResource)
		if !ok || !*awscdk.CfnResource_IsCfnResource(child) {
			continue
		}
		var rules []interface{}
		if existing, ok := res.GetMetadata(jsii.String("cdk_nag")).(map[string]interface{}); ok {
			if r, ok := existing["rules_to_suppress"].([]interface{}); ok {
				rules = r
			}
		}
		for _, s := range ss {
			if len(s.AppliesTo) == 0 {
				rules = append(rules, map[string]interface{}{"id": s.ID, "reason": s.Reason})
			}
			for _, finding := range s.AppliesTo {
				rules = append(rules, map[string]interface{}{"id": s.ID + "[" + finding + "]", "reason": s.Reason})
			}
		}
		res.AddMetadata(jsii.String("cdk_nag"), map[string]interface{}{"rules_to_suppress": rules})
	}
}

// applyNagSuppressions accepts the AwsSolutions findings that are deliberate, each with its reason.
func applyNagSuppressions(k *KinflowStack) {
	if k.Stream.Key != nil {
		suppress(k.Stream.Stream, Suppression{ID: "AwsSolutions-KDS3", Reason: "streamEncryption=kms was chosen: a " +
			"customer-managed key (rotated yearly) instead of aws/kinesis, for a key policy the owner controls"})
	}
	if k.Lambda != nil {
		suppress(k.Lambda.DeadLetters, Suppression{ID: "AwsSolutions-SQS3", Reason: "this queue is itself the " +
			"dead-letter destination (on-failure destination of the Kinesis event source mapping); the rule only " +
			"recognises queues named in a RedrivePolicy"})
	}
	if k.Consumer != nil {
		suppress(k.Consumer.TaskDef, Suppression{ID: "AwsSolutions-ECS2", Reason: "the environment holds only " +
			"non-secret configuration (names, URLs, ARNs); credentials stay in Secrets Manager and are read at run " +
			"time by ARN"})
		suppress(k.Consumer.TaskDef.ExecutionRole(), Suppression{ID: "AwsSolutions-IAM5", AppliesTo: []string{"Resource::*"},
			Reason: "ecr:GetAuthorizationToken has no resource-level permissions; the image pull actions are " +
				"scoped to the asset repository"})
	}
	if in := k.S3Intake; in != nil {
		suppress(in.DeadLetters, Suppression{ID: "AwsSolutions-SQS3", Reason: "this queue is itself the dead-letter " +
			"queue of the S3 intake queue (its RedrivePolicy names it)"})
		if in.AccessLogs != nil {
			suppress(in.AccessLogs, Suppression{ID: "AwsSolutions-S1", Reason: "this bucket holds the server access " +
				"logs of the intake bucket; logging its own accesses would log every delivery again"})
		}
		// The objects of each configured bucket/prefix, and of the new bucket: a prefix is the narrowest IAM
		// resource S3 object keys allow.
		var findings []string
		for _, arn := range in.ObjectARNs() {
			findings = append(findings, "Resource::"+nagName(k, arn))
		}
		for _, r := range k.intakeReaders() {
			suppress(r, Suppression{ID: "AwsSolutions-IAM5", AppliesTo: findings, Reason: "s3:GetObject and " +
				"s3:GetObjectVersion on bucket/prefix*: the objects under the configured prefixes (and of the new " +
				"bucket) that S3 notifications announce; keys are not known in advance"})
		}
		// The CDK's singleton handler of bucket notifications (Custom::S3BucketNotifications), one per stack.
		if h := k.Stack.Node().TryFindChild(jsii.String("BucketNotificationsHandler050a0587b7544547bf325f094a3db834")); h != nil {
			suppress(h, Suppression{ID: "AwsSolutions-IAM4",
				AppliesTo: []string{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"},
				Reason: "the CDK's bucket-notifications handler: its role and the managed logging policy are the CDK's, " +
					"used only at deploy time to put the notification configuration"},
				Suppression{ID: "AwsSolutions-L1", Reason: "the CDK's bucket-notifications handler: its Python runtime is " +
					"chosen by the CDK version, not by this stack; it runs only at deploy time"})
		}
	}
	if d := k.Destination.Domain; d != nil {
		cfg := k.Props.Sink.NewDomain
		reason := "the domain has a public endpoint guarded by identity, not network: fine-grained access control " +
			"with an IAM master user and no internal users, an access policy naming only kinflow's roles, SigV4 " +
			"on every request, HTTPS with TLS 1.2; the Lambda runtime runs outside any VPC"
		suppress(d, Suppression{ID: "AwsSolutions-OS1", Reason: reason}, Suppression{ID: "AwsSolutions-OS3", Reason: reason})
		if cfg.DedicatedMasterType == "" {
			suppress(d, Suppression{ID: "AwsSolutions-OS4", Reason: "dedicated master nodes are opt-in " +
				"(domainDedicatedMasterType): they triple the node count of a small flow-log domain"})
		}
		if cfg.InstanceCount%2 != 0 || cfg.InstanceCount == 1 {
			suppress(d, Suppression{ID: "AwsSolutions-OS7", Reason: "zone awareness needs an even number of data " +
				"nodes; domainInstanceCount is odd, so the domain lives in one Availability Zone by choice"})
		}
	}
	if k.Props.Enrich.AWS {
		for _, r := range k.pipelineRoles() {
			suppress(r, Suppression{ID: "AwsSolutions-IAM5", AppliesTo: []string{"Resource::*"},
				Reason: "ec2:DescribeNetworkInterfaces, ec2:DescribeTags and ec2:DescribeFlowLogs (enrichAws) do not " +
					"support resource-level permissions; the statement allows these three reads only, in the " +
					"regions enriched (aws:RequestedRegion)"})
		}
	}
	// Data-plane requests on a search domain name index paths below it: <domain ARN>/* is this domain only.
	if w := k.domainWildcard(); w != "" {
		for _, r := range k.writerRoles() {
			suppress(r, Suppression{ID: "AwsSolutions-IAM5", AppliesTo: []string{w},
				Reason: "es:ESHttp* requests address index paths below the domain; <domain ARN>/* names this one domain"})
		}
	}
}

// writerRoles are the roles of the runtime of the chosen mode.
func (k *KinflowStack) writerRoles() []constructs.IConstruct {
	if k.Lambda != nil {
		var out []constructs.IConstruct
		for _, r := range k.Lambda.Roles() {
			out = append(out, r)
		}
		return out
	}
	return []constructs.IConstruct{k.Consumer.TaskRole}
}

// domainWildcard is the IAM5 finding of the domain grant, as cdk-nag names it, or "" without a domain.
func (k *KinflowStack) domainWildcard() string {
	switch {
	case k.Destination.Domain != nil:
		id := k.Stack.Resolve(k.Destination.Domain.LogicalId()).(string)
		return "Resource::<" + id + ".Arn>/*"
	case k.Props.Sink.DomainARN != "":
		return "Resource::" + k.Props.Sink.DomainARN + "/*"
	}
	return ""
}

// intakeReaders are the roles that read the intake's objects.
func (k *KinflowStack) intakeReaders() []constructs.IConstruct {
	if k.Lambda != nil {
		return []constructs.IConstruct{k.Lambda.ObjectsRole}
	}
	return []constructs.IConstruct{k.Consumer.TaskRole}
}

// nagName writes a resource as cdk-nag names it in a finding: Fn::Sub with its ${...} as <...>, a GetAtt as
// <LogicalId.Attr>, and Fn::Join of those.
func nagName(k *KinflowStack, v *string) string {
	var name func(x any) string
	name = func(x any) string {
		switch t := x.(type) {
		case string:
			return t
		case map[string]any:
			if sub, ok := t["Fn::Sub"].(string); ok {
				return strings.NewReplacer("${", "<", "}", ">").Replace(sub)
			}
			if ga, ok := t["Fn::GetAtt"].([]any); ok {
				return "<" + ga[0].(string) + "." + ga[1].(string) + ">"
			}
			if ref, ok := t["Ref"].(string); ok {
				return "<" + ref + ">"
			}
			if j, ok := t["Fn::Join"].([]any); ok {
				var parts []string
				for _, p := range j[1].([]any) {
					parts = append(parts, name(p))
				}
				return strings.Join(parts, j[0].(string))
			}
		}
		return fmt.Sprint(x)
	}
	return name(k.Stack.Resolve(v))
}
