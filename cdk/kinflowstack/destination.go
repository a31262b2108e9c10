package kinflowstack

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsopensearchservice"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// DestinationProps is the sink configuration plus the roles of the runtime that writes to it (the domain's access
// policy and fine-grained master user name them, so they are known before the domain).
type DestinationProps struct {
	Sink    SinkConfig
	Webhook WebhookConfig
	// AlertsWebhook receives the finalizer's alerts, whose rules Detections switches and allow-lists.
	AlertsWebhook WebhookConfig
	Detections    DetectionsConfig
	Retain        bool
	// Writers are the runtime roles allowed to write: the consumer task's, or the functions' (one role shared by
	// both with a new domain, else one each). A new domain needs exactly one (see ErrDomainWriters).
	Writers []awsiam.IRole
}

// Destination owns where documents and closed windows go: an existing endpoint, or a new Amazon OpenSearch
// Service domain, the webhooks, and the detections that make alerts. It grants the writers what they need and gives them their environment.
type Destination struct {
	constructs.Construct
	// Domain is the new domain, nil for an existing endpoint.
	Domain awsopensearchservice.CfnDomain
	// Env is the sink and webhook part of the runtime environment.
	Env map[string]*string
}

// completeSecretARN matches an ARN that ends in the 6-character suffix Secrets Manager adds to every secret name.
var completeSecretARN = regexp.MustCompile(`-[A-Za-z0-9]{6}$`)

// secretResource returns the IAM resource for a secret: a complete ARN as is, a partial one with the suffix
// wildcard Secrets Manager documents (`-??????`), which still names exactly one secret.
func secretResource(arn string) string {
	if completeSecretARN.MatchString(arn) {
		return arn
	}
	return arn + "-??????"
}

// ErrDomainWriters: a new domain's fine-grained access control maps one IAM principal, its master user, so every
// process that sends the domain requests must run as that one role; any other writer role would pass the access
// policy and then get 403 from every request.
var ErrDomainWriters = errors.New("a new OpenSearch domain needs exactly one writer role (its fine-grained access control master user)")

// NewDestination grants the writers the sink and webhook, creating the domain if asked.
func NewDestination(scope constructs.Construct, id string, p DestinationProps) (*Destination, error) {
	if p.Sink.NewDomain != nil && len(p.Writers) != 1 {
		return nil, fmt.Errorf("destination %s: %w; got %d", id, ErrDomainWriters, len(p.Writers))
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	d := &Destination{Construct: c, Env: map[string]*string{}}
	s := p.Sink
	d.Env[EnvSinkKind] = jsii.String(string(s.Kind))
	read := func(sid, arn string) {
		for _, w := range p.Writers {
			w.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String(sid),
				Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
				Resources: jsii.Strings(secretResource(arn)),
			}))
		}
	}
	switch {
	case s.NewDomain != nil:
		d.Domain = newDomain(c, *s.NewDomain, p.Writers[0], p.Retain)
		d.Env[EnvSinkURL] = jsii.String("https://" + *d.Domain.AttrDomainEndpoint())
		d.Env[EnvSinkAWSRegion] = awscdk.Aws_REGION()
		d.Env[EnvSinkAWSService] = jsii.String("es")
		grantDomainHTTP(p.Writers, *d.Domain.AttrArn())
	case s.DomainARN != "":
		d.Env[EnvSinkURL] = jsii.String(s.URL)
		d.Env[EnvSinkAWSRegion] = jsii.String(arnRegion(s.DomainARN))
		d.Env[EnvSinkAWSService] = jsii.String("es")
		grantDomainHTTP(p.Writers, s.DomainARN)
	case s.SecretARN != "":
		d.Env[EnvSinkURL] = jsii.String(s.URL)
		d.Env[EnvSinkSecretARN] = jsii.String(s.SecretARN)
		read("ReadSinkSecret", s.SecretARN)
	default: // no credentials, e.g. a cluster reachable only from the workers' network
		d.Env[EnvSinkURL] = jsii.String(s.URL)
	}
	if p.Webhook.URL != "" {
		d.Env[EnvWebhookURL] = jsii.String(p.Webhook.URL)
		d.Env[EnvWebhookSecretARN] = jsii.String(p.Webhook.SecretARN)
		read("ReadWebhookSecret", p.Webhook.SecretARN)
	}
	if p.AlertsWebhook.URL != "" {
		d.Env[EnvAlertsWebhookURL] = jsii.String(p.AlertsWebhook.URL)
		d.Env[EnvAlertsWebhookSecretARN] = jsii.String(p.AlertsWebhook.SecretARN)
		read("ReadAlertsWebhookSecret", p.AlertsWebhook.SecretARN)
	}
	d.Env[EnvDetect] = jsii.String(strconv.FormatBool(p.Detections.Enabled))
	if len(p.Detections.Allow) > 0 {
		d.Env[EnvDetectAllow] = jsii.String(strings.Join(p.Detections.Allow, ","))
	}
	return d, nil
}

// domainHTTPActions are the data-plane requests kinflow makes: bulk writes, template setup, searches for partials.
var domainHTTPActions = []string{"es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut"}

func grantDomainHTTP(writers []awsiam.IRole, domainARN string) {
	for _, w := range writers {
		w.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("WriteSearchDomain"),
			Actions:   jsii.Strings(domainHTTPActions...),
			Resources: jsii.Strings(domainARN + "/*"),
		}))
	}
}

func arnRegion(arn string) string {
	var parts [6]string
	n := 0
	start := 0
	for i := 0; i < len(arn) && n < 5; i++ {
		if arn[i] == ':' {
			parts[n] = arn[start:i]
			n++
			start = i + 1
		}
	}
	return parts[3]
}

// newDomain creates an OpenSearch Service domain: encrypted at rest and between nodes, HTTPS with TLS 1.2 only,
// fine-grained access control with the one writer role as master user (so kinflow can install its templates and
// every request it makes is mapped), an access policy naming only that role, and its application, slow and audit
// logs in CloudWatch Logs.
// It is an L1 resource with a fixed name so the access policy can name the domain's ARN without a custom resource.
func newDomain(c constructs.Construct, cfg DomainConfig, writer awsiam.IRole, retain bool) awsopensearchservice.CfnDomain {
	stack := awscdk.Stack_Of(c)
	domainARN := awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:es:${AWS::Region}:${AWS::AccountId}:domain/"+cfg.Name), nil)
	removal := awscdk.RemovalPolicy_DESTROY
	if retain {
		removal = awscdk.RemovalPolicy_RETAIN
	}
	logs := map[string]awslogs.LogGroup{}
	var logARNs []*string
	for _, kind := range []string{"ES_APPLICATION_LOGS", "SEARCH_SLOW_LOGS", "INDEX_SLOW_LOGS", "AUDIT_LOGS"} {
		lg := awslogs.NewLogGroup(c, jsii.String("Logs"+kind), &awslogs.LogGroupProps{
			LogGroupName:  jsii.String(fmt.Sprintf("/aws/opensearch/%s/%s", cfg.Name, kind)),
			Retention:     awslogs.RetentionDays_ONE_MONTH,
			RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		})
		logs[kind] = lg
		logARNs = append(logARNs, lg.LogGroupArn())
	}
	logPolicy := awslogs.NewCfnResourcePolicy(c, jsii.String("LogsPolicy"), &awslogs.CfnResourcePolicyProps{
		PolicyName: jsii.String("kinflow-opensearch-" + cfg.Name),
		PolicyDocument: stack.ToJsonString(map[string]interface{}{
			"Version": "2012-10-17",
			"Statement": []interface{}{map[string]interface{}{
				"Effect":    "Allow",
				"Principal": map[string]interface{}{"Service": "es.amazonaws.com"},
				"Action":    []string{"logs:PutLogEvents", "logs:CreateLogStream"},
				"Resource":  logARNs,
				"Condition": map[string]interface{}{
					"StringEquals": map[string]interface{}{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
					"ArnLike":      map[string]interface{}{"aws:SourceArn": domainARN},
				},
			}},
		}, nil),
	})

	principals := []*string{writer.RoleArn()}
	publish := map[string]interface{}{}
	for kind, lg := range logs {
		publish[kind] = &awsopensearchservice.CfnDomain_LogPublishingOptionProperty{
			CloudWatchLogsLogGroupArn: lg.LogGroupArn(),
			Enabled:                   jsii.Bool(true),
		}
	}
	// An even number of data nodes spreads over two Availability Zones.
	zoneAware := cfg.InstanceCount > 1 && cfg.InstanceCount%2 == 0
	cluster := &awsopensearchservice.CfnDomain_ClusterConfigProperty{
		InstanceType:         jsii.String(cfg.InstanceType),
		InstanceCount:        jsii.Number(cfg.InstanceCount),
		ZoneAwarenessEnabled: jsii.Bool(zoneAware),
	}
	if cfg.DedicatedMasterType != "" {
		cluster.DedicatedMasterEnabled = jsii.Bool(true)
		cluster.DedicatedMasterType = jsii.String(cfg.DedicatedMasterType)
		cluster.DedicatedMasterCount = jsii.Number(3)
	}
	if zoneAware {
		cluster.ZoneAwarenessConfig = &awsopensearchservice.CfnDomain_ZoneAwarenessConfigProperty{AvailabilityZoneCount: jsii.Number(2)}
	}
	dom := awsopensearchservice.NewCfnDomain(c, jsii.String("Domain"), &awsopensearchservice.CfnDomainProps{
		DomainName:    jsii.String(cfg.Name),
		EngineVersion: jsii.String(cfg.EngineVersion),
		ClusterConfig: cluster,
		EbsOptions: &awsopensearchservice.CfnDomain_EBSOptionsProperty{
			EbsEnabled: jsii.Bool(true),
			VolumeType: jsii.String("gp3"),
			VolumeSize: jsii.Number(cfg.VolumeGB),
		},
		EncryptionAtRestOptions:     &awsopensearchservice.CfnDomain_EncryptionAtRestOptionsProperty{Enabled: jsii.Bool(true)},
		NodeToNodeEncryptionOptions: &awsopensearchservice.CfnDomain_NodeToNodeEncryptionOptionsProperty{Enabled: jsii.Bool(true)},
		DomainEndpointOptions: &awsopensearchservice.CfnDomain_DomainEndpointOptionsProperty{
			EnforceHttps:      jsii.Bool(true),
			TlsSecurityPolicy: jsii.String("Policy-Min-TLS-1-2-PFS-2023-10"),
		},
		AdvancedSecurityOptions: &awsopensearchservice.CfnDomain_AdvancedSecurityOptionsInputProperty{
			Enabled:                     jsii.Bool(true),
			InternalUserDatabaseEnabled: jsii.Bool(false),
			MasterUserOptions: &awsopensearchservice.CfnDomain_MasterUserOptionsProperty{
				MasterUserArn: writer.RoleArn(),
			},
		},
		AccessPolicies:       accessPolicyObject(principals, domainARN),
		LogPublishingOptions: publish,
	})
	dom.ApplyRemovalPolicy(removal, nil)
	dom.Node().AddDependency(logPolicy)
	return dom
}

func accessPolicyObject(principals []*string, domainARN *string) map[string]interface{} {
	return map[string]interface{}{
		"Version": "2012-10-17",
		"Statement": []interface{}{map[string]interface{}{
			"Effect":    "Allow",
			"Principal": map[string]interface{}{"AWS": principals},
			"Action":    domainHTTPActions,
			"Resource":  awscdk.Fn_Join(jsii.String(""), &[]*string{domainARN, jsii.String("/*")}),
		}},
	}
}
