package retry_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kinflow/kinflow/internal/retry"
)

// A call that is throttled twice, then succeeds; a refusal is not retried at all.
func ExampleDo() {
	policy := retry.Policy{Initial: time.Millisecond, Max: 10 * time.Millisecond, MaxAttempts: 5}
	calls := 0
	err := retry.Do(context.Background(), policy, func(context.Context) error {
		calls++
		if calls < 3 {
			return errors.New("429 too many requests") // unclassified: retryable
		}
		return nil
	}, retry.OnRetry(func(err error, attempt int, _ time.Duration) {
		fmt.Printf("attempt %d failed: %v\n", attempt, err)
	}))
	fmt.Println("throttled:", err, "after", calls, "calls")

	calls = 0
	err = retry.Do(context.Background(), policy, func(context.Context) error {
		calls++
		return retry.Permanent(errors.New("400 mapper_parsing_exception"))
	})
	fmt.Println("refused:", err, "after", calls, "call; permanent:", retry.IsPermanent(err))
	// Output:
	// attempt 1 failed: 429 too many requests
	// attempt 2 failed: 429 too many requests
	// throttled: <nil> after 3 calls
	// refused: 400 mapper_parsing_exception after 1 call; permanent: true
}
