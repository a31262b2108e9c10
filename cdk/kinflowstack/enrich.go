package kinflowstack

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/kinflow/kinflow/internal/settings"
)

// EnrichConfig is what the runtimes that run the pipeline (the batch and objects functions, the consumer; not the
// finalizer, which enriches nothing) enrich flows with. The stack passes it as their environment and grants their
// roles exactly the reads it needs; nothing when nothing is configured.
type EnrichConfig struct {
	// AWS names the resources of the VPCs' addresses from EC2 (DescribeNetworkInterfaces, DescribeTags,
	// DescribeFlowLogs) in Regions (none: the stack's region), in this account and through Roles in others.
	AWS     bool
	Regions []string
	Roles   []string // role ARNs of other accounts, assumed with sts:AssumeRole
	// Refresh is how often the sources are read again.
	Refresh time.Duration
	// GeoIPCity and GeoIPASN are MaxMind databases, and ThreatLists (name -> source) lists of IPs and CIDRs; each
	// source is s3://bucket/key (read with s3:GetObject on that one object) or, in consumer mode only, an absolute
	// path in the image.
	GeoIPCity, GeoIPASN string
	ThreatLists         map[string]string
}

// DefaultEnrichRefresh is the runtimes' default of KINFLOW_ENRICH_REFRESH.
const DefaultEnrichRefresh = 5 * time.Minute

// Enabled reports whether any source is configured.
func (c EnrichConfig) Enabled() bool {
	return c.AWS || c.GeoIPCity != "" || c.GeoIPASN != "" || len(c.ThreatLists) > 0
}

// Env is the environment of the pipeline runtimes: none without a source.
func (c EnrichConfig) Env() map[string]*string {
	env := map[string]*string{}
	if !c.Enabled() {
		return env
	}
	set := func(name, v string) {
		if v != "" {
			env[name] = jsii.String(v)
		}
	}
	if c.AWS {
		set(EnvEnrichAWS, "true")
		set(EnvEnrichAWSRegions, strings.Join(c.Regions, ","))
		set(EnvEnrichAWSRoles, strings.Join(c.Roles, ","))
	}
	set(EnvEnrichRefresh, c.Refresh.String())
	set(EnvGeoIPCity, c.GeoIPCity)
	set(EnvGeoIPASN, c.GeoIPASN)
	lists := make([]string, 0, len(c.ThreatLists))
	for _, name := range slices.Sorted(maps.Keys(c.ThreatLists)) {
		lists = append(lists, name+"="+c.ThreatLists[name])
	}
	set(EnvThreatLists, strings.Join(lists, ";"))
	return env
}

// s3Objects are the bucket/key of every s3:// source, sorted, each once.
func (c EnrichConfig) s3Objects() []string {
	var out []string
	for _, v := range append([]string{c.GeoIPCity, c.GeoIPASN}, slices.Collect(maps.Values(c.ThreatLists))...) {
		if obj, ok := strings.CutPrefix(v, "s3://"); ok && !slices.Contains(out, obj) {
			out = append(out, obj)
		}
	}
	slices.Sort(out)
	return out
}

// enrichEC2Actions are the EC2 reads of AWS enrichment. None of them supports resource-level permissions: their
// statement names Resource "*", bounded by aws:RequestedRegion.
var enrichEC2Actions = []string{"ec2:DescribeNetworkInterfaces", "ec2:DescribeTags", "ec2:DescribeFlowLogs"}

// grantEnrich lets role read the enrichment sources: the EC2 describes in the regions read, sts:AssumeRole on
// exactly the listed roles, s3:GetObject (which HeadObject needs too) on exactly each s3:// object. One statement
// each: a Sid is unique within a policy.
func grantEnrich(role awsiam.IRole, c EnrichConfig) {
	if c.AWS {
		regions := []*string{awscdk.Aws_REGION()}
		if len(c.Regions) > 0 {
			regions = *jsii.Strings(c.Regions...)
		}
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("DescribeVpcResources"),
			Actions:   jsii.Strings(enrichEC2Actions...),
			Resources: jsii.Strings("*"),
			Conditions: &map[string]interface{}{
				"StringEquals": map[string]interface{}{"aws:RequestedRegion": regions},
			},
		}))
		if len(c.Roles) > 0 {
			role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("AssumeEnrichRoles"),
				Actions:   jsii.Strings("sts:AssumeRole"),
				Resources: jsii.Strings(c.Roles...),
			}))
		}
	}
	if objs := c.s3Objects(); len(objs) > 0 {
		arns := make([]*string, len(objs))
		for i, o := range objs {
			arns[i] = s3ARN(o)
		}
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("ReadEnrichObjects"),
			Actions:   jsii.Strings("s3:GetObject"),
			Resources: &arns,
		}))
	}
}

var (
	roleARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$`)
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$`)
)

// validateEnrich reports what is wrong with the enrichment keys, each problem naming its key.
func (p *Props) validateEnrich(bad func(string, ...any)) {
	c := p.Enrich
	if !c.AWS {
		if len(c.Regions) > 0 {
			bad("enrichRegions is set without enrichAws=true")
		}
		if len(c.Roles) > 0 {
			bad("enrichRoles is set without enrichAws=true")
		}
	}
	for _, r := range c.Regions {
		if !regionRE.MatchString(r) {
			bad("enrichRegions: %q is not a region (eu-west-1)", r)
		}
	}
	for _, r := range c.Roles {
		if !roleARNRE.MatchString(r) {
			bad("enrichRoles: %q: want a role ARN (arn:aws:iam::<account>:role/<name>)", r)
		}
	}
	if err := checkSetting(settings.EnrichRefresh, c.Refresh.String()); err != nil {
		bad("enrichRefresh %v: %w", c.Refresh, err)
	} else if c.Refresh != DefaultEnrichRefresh && !c.Enabled() {
		bad("enrichRefresh is set without enrichAws, geoipCity, geoipAsn or threatLists")
	}
	p.checkEnrichSource("geoipCity", c.GeoIPCity, bad)
	p.checkEnrichSource("geoipAsn", c.GeoIPASN, bad)
	for _, name := range slices.Sorted(maps.Keys(c.ThreatLists)) {
		// KINFLOW_THREAT_LISTS is name=source;...: a name holds neither '=' nor ';', a source no ';'.
		key := "threatLists[" + name + "]"
		switch v := c.ThreatLists[name]; {
		case name == "" || strings.TrimSpace(name) != name || strings.ContainsAny(name, "=;"):
			bad("threatLists: name %q: want a name without '=', ';' and surrounding spaces", name)
		case v == "":
			bad("%s: empty; want s3://bucket/key or a path", key)
		case strings.Contains(v, ";"):
			bad("%s %q: ';' separates the lists in %s", key, v, EnvThreatLists)
		default:
			p.checkEnrichSource(key, v, bad)
		}
	}
}

// checkEnrichSource checks one GeoIP database or threat list: s3://bucket/key of one object, or an absolute path,
// which only the consumer's image can hold (the function's bundle, `make lambda`, is the bootstrap alone).
func (p *Props) checkEnrichSource(key, v string, bad func(string, ...any)) {
	if v == "" {
		return
	}
	rest, isS3 := strings.CutPrefix(v, "s3://")
	if !isS3 {
		switch {
		case strings.HasPrefix(v, "s3:") || strings.Contains(v, "://"):
			bad("%s %q: want s3://bucket/key or a path", key, v)
		case p.Mode == ModeLambda:
			bad("%s %q: lambda mode reads s3://bucket/key only (the function's bundle holds the bootstrap alone); upload the file to S3", key, v)
		case !strings.HasPrefix(v, "/"):
			bad("%s %q: want s3://bucket/key or an absolute path in the consumer's image", key, v)
		}
		return
	}
	bucket, obj, _ := strings.Cut(rest, "/")
	switch {
	case !bucketNameRE.MatchString(bucket) || strings.Contains(bucket, ".."):
		bad("%s %q: bucket %q: want a bucket name (3 to 63 lowercase letters, digits, '.' and '-')", key, v, bucket)
	case obj == "" || strings.HasSuffix(obj, "/"):
		bad("%s %q: want s3://bucket/key of one object", key, v)
	case len(obj) > 1024:
		bad("%s %.60q...: a key is at most 1024 bytes", key, v)
	case strings.ContainsAny(obj, "*?"):
		bad("%s %q: '*' and '?' would be wildcards in the IAM grant; name one object", key, v)
	case strings.Contains(obj, "${"):
		bad("%s %q: '${' would read as a CloudFormation substitution", key, v)
	}
}
