package s3obj_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"

	"github.com/kinflow/kinflow/internal/transport/s3obj"
)

// An SQS message as S3 sends it when VPC Flow Logs delivers a file: ParseMessage finds the object, the Router
// says it is a flow log and of which account, region and flow log, and Lines reads it (here from memory; in
// production from an S3Opener's reader).
func ExampleParseMessage() {
	body, err := os.ReadFile("testdata/s3-put-flowlog.json")
	if err != nil {
		panic(err)
	}
	n, err := s3obj.ParseMessage(body)
	if err != nil {
		panic(err) // an *s3obj.Error: permanent, for the dead-letter queue
	}
	router, err := s3obj.NewRouter(s3obj.DefaultConfig())
	if err != nil {
		panic(err)
	}
	for _, ev := range n.Objects {
		route, err := router.Route(ev.Object.Bucket, ev.Object.Key)
		if err != nil {
			panic(err) // unknown_layout: add an Override
		}
		fmt.Println(route.Kind, route.Account, route.Region, route.ResourceID, ev.Object.Identity())

		var object bytes.Buffer // what GetObject would return
		zw := gzip.NewWriter(&object)
		zw.Write([]byte("version account-id interface-id\r\n2 123456789012 eni-0a1b2c3d\n"))
		zw.Close()
		lines, err := s3obj.NewLines(&object, s3obj.DefaultConfig())
		if err != nil {
			panic(err)
		}
		for lines.Next() {
			if lines.LineErr() != nil {
				continue // line_too_long: count it and go on
			}
			fmt.Printf("%d@%d %s\n", lines.Number(), lines.Offset(), lines.Bytes())
		}
		if err := lines.Err(); err != nil {
			panic(err)
		}
	}
	// Output:
	// vpcflow 123456789012 us-east-1 fl-0a1b2c3d4e5f67890 0d8a3c5e2b7f4a1e9c6d5b4a3f2e1d0c
	// 1@0 version account-id interface-id
	// 2@33 2 123456789012 eni-0a1b2c3d
}
