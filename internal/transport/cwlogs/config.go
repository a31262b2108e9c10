// Package cwlogs decodes what a CloudWatch Logs subscription delivers: a gzip'd JSON envelope carrying a batch of
// log events of one log group and stream. It gunzips with a cap on the decompressed size, decodes the envelope
// without reflection, recognises CONTROL_MESSAGE deliveries, and accepts the shapes a user pastes when debugging
// (a Lambda Kinesis event, base64 text, raw gzip). It knows nothing of what the log lines mean.
package cwlogs

import (
	"errors"
	"fmt"
)

// Config bounds the decoder. Start from DefaultConfig.
type Config struct {
	// MaxDecompressedBytes caps the size of one gunzipped payload. A Kinesis record is at most 1 MiB, and CloudWatch
	// Logs JSON compresses 5-20x, so the default (16 MiB) fits any real record; a gzip bomb stops at the cap with
	// ErrTooLarge instead of growing memory.
	MaxDecompressedBytes int
	// MaxEvents caps the events of one envelope (CloudWatch Logs puts at most 10,000 events in one batch).
	MaxEvents int
}

// Limits of the configuration values.
const (
	MinDecompressedBytes = 64 << 10
	MaxDecompressedLimit = 1 << 30
	MaxEventsLimit       = 1 << 20
)

// DefaultConfig returns the configuration for records delivered by a CloudWatch Logs subscription.
func DefaultConfig() Config {
	return Config{MaxDecompressedBytes: 16 << 20, MaxEvents: 50_000}
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if c.MaxDecompressedBytes < MinDecompressedBytes || c.MaxDecompressedBytes > MaxDecompressedLimit {
		errs = append(errs, fmt.Errorf("cwlogs: MaxDecompressedBytes %d: allowed %d to %d (a 1 MiB record needs several MiB)",
			c.MaxDecompressedBytes, MinDecompressedBytes, MaxDecompressedLimit))
	}
	if c.MaxEvents < 1 || c.MaxEvents > MaxEventsLimit {
		errs = append(errs, fmt.Errorf("cwlogs: MaxEvents %d: allowed 1 to %d", c.MaxEvents, MaxEventsLimit))
	}
	return errors.Join(errs...)
}
