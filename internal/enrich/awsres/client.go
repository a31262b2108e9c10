package awsres

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// RoleSessionName names the sessions of the assumed roles, so the other account's CloudTrail says who read it.
const RoleSessionName = "kinflow-awsres"

// NewClientFactory returns the production ClientFactory: an EC2 client of base in the target's region, with the
// target's role assumed through STS (in that region) when it has one. The assumed credentials are cached and
// renewed before they expire; a role that cannot be assumed fails the target's first call of each refresh.
func NewClientFactory(base aws.Config) ClientFactory {
	return func(t Target) (EC2API, error) {
		cfg := base.Copy()
		cfg.Region = t.Region
		if t.RoleARN != "" {
			stsClient := sts.NewFromConfig(cfg) // the base credentials assume the role
			provider := stscreds.NewAssumeRoleProvider(stsClient, t.RoleARN, func(o *stscreds.AssumeRoleOptions) {
				o.RoleSessionName = RoleSessionName
				if t.ExternalID != "" {
					o.ExternalID = aws.String(t.ExternalID)
				}
			})
			cfg.Credentials = aws.NewCredentialsCache(provider)
		}
		return ec2.NewFromConfig(cfg), nil
	}
}
