package awsres

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	good := DefaultConfig()
	good.Targets = []Target{
		{Region: "us-east-1"},
		{Region: "eu-central-2", RoleARN: "arn:aws:iam::123456789012:role/path/kinflow-inventory", ExternalID: "x-1"},
		{Region: "us-gov-west-1", RoleARN: "arn:aws-us-gov:iam::123456789012:role/r", VPCs: []string{"vpc-0123456789abcdef0"}},
		{Region: "cn-north-1", RoleARN: "arn:aws-cn:iam::123456789012:role/r"},
	}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid configuration: %v", err)
	}

	bad := good
	bad.Targets = []Target{
		{Region: "US-EAST-1"},
		{Region: "us-east-1", RoleARN: "arn:aws:iam::1234:role/r"},
		{Region: "us-east-1", RoleARN: "arn:aws:iam::123456789012:user/u"},
		{Region: "us-east-1", ExternalID: "lonely"},
		{Region: "eu-west-1", RoleARN: "arn:aws:iam::123456789012:role/r", ExternalID: "bad id!"},
		{Region: "eu-west-2", VPCs: []string{"vpc-XYZ"}},
		{Region: "eu-west-2"},
	}
	bad.Interval = time.Second
	bad.Timeout = 0
	bad.MaxInterfaces = 0
	err := bad.Validate()
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Validate = %v, want ErrInvalidConfig", err)
	}
	// Every problem is reported at once.
	for _, want := range []string{`region "US-EAST-1"`, `role ARN "arn:aws:iam::1234:role/r"`, `role ARN "arn:aws:iam::123456789012:user/u"`,
		"external id without a role ARN", "target 4: external id", `VPC id "vpc-XYZ"`, "target 6 (eu-west-2) repeats target 5",
		"interval 1s", "timeout 0s", "max interfaces 0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error lacks %q:\n%v", want, err)
		}
	}
	if err := DefaultConfig().Validate(); err == nil || !strings.Contains(err.Error(), "no targets") {
		t.Errorf("a configuration without targets: %v", err)
	}
	if _, err := New(good, nil, Options{}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("New without a client factory: %v", err)
	}
}
