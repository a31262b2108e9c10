package elb_test

import (
	"fmt"

	"github.com/kinflow/kinflow/internal/format/elb"
)

func ExampleParse() {
	// The TCP listener example of AWS's documentation: no request, no status codes.
	line := `2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.001069 0.000028 0.000041 - - 82 305 "- - - " "-" - -`
	var rec elb.Record
	if err := elb.Parse([]byte(line), &rec); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rec.Client, rec.Backend, rec.Request == nil, rec.ReceivedBytes, rec.SentBytes)
	var enc elb.Encoder
	fmt.Printf("%s\n", enc.AppendDocument(nil, &rec))
	// Output:
	// 192.168.131.39:2817 10.0.0.1:80 false 82 305
	// {"@timestamp":"2015-05-13T23:39:43.945Z","event":{"kind":"event","category":["web"],"dataset":"aws.elb","duration":1138000},"source":{"ip":"192.168.131.39","port":2817},"destination":{"ip":"10.0.0.1","port":80},"cloud":{"provider":"aws"},"aws":{"elb":{"name":"my-loadbalancer","received_bytes":82,"sent_bytes":305,"request_processing_time_ns":1069000,"target_processing_time_ns":28000,"response_processing_time_ns":41000}}}
}
