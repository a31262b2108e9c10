package main

import (
	"context"
	"io"
)

func runDemo(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	return nil
}
