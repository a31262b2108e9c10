package awsres_test

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kinflow/kinflow/internal/enrich/awsres"
)

// checkResource compares a Resource field by field (addresses by value).
func checkResource(tb testing.TB, got, want *awsres.Resource) {
	tb.Helper()
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
		cmpopts.IgnoreUnexported(awsres.Resource{})); d != "" {
		tb.Errorf("interface %s (-want +got):\n%s", want.ENI, d)
	}
}
