package awsres

import (
	"errors"
	"fmt"

	"github.com/aws/smithy-go"
)

// A TargetError is the failure of one target's refresh. The target keeps its previous part of the snapshot.
// Refresh joins the TargetErrors of the targets that failed.
type TargetError struct {
	Target Target
	Op     string // what failed: "client", "DescribeNetworkInterfaces", "DescribeTags"
	Err    error
}

func (e *TargetError) Error() string {
	return fmt.Sprintf("awsres: target %s: %s: %v", e.Target, e.Op, e.Err)
}

func (e *TargetError) Unwrap() error { return e.Err }

// Permanent reports whether retrying will give the same answer: a missing permission, a role that cannot be
// assumed, an opt-in region not enabled. The refresher retries anyway at the next interval, because permissions
// change; the flag is for alerting.
func (e *TargetError) Permanent() bool {
	var ae smithy.APIError
	if errors.As(e.Err, &ae) {
		switch ae.ErrorCode() {
		case "UnauthorizedOperation", "AccessDenied", "AccessDeniedException", "AuthFailure", "OptInRequired",
			"InvalidClientTokenId", "UnrecognizedClientException", "InvalidParameterValue", "InvalidParameter",
			"InvalidParameterCombination":
			return true
		}
	}
	return false
}
