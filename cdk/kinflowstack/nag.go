package kinflowstack

import (
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
