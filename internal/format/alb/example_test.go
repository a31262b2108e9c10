package alb_test

import (
	"fmt"

	"github.com/kinflow/kinflow/internal/format/alb"
)

func ExampleParse() {
	// The HTTP example of AWS's documentation.
	line := `http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1234abcd5678ef90 "-" "-" "-"`
	var rec alb.Record
	if err := alb.Parse([]byte(line), &rec); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rec.Client, rec.Target, rec.ELBStatusCode, string(rec.Req.Path))
	var enc alb.Encoder
	fmt.Printf("%s\n", enc.AppendDocument(nil, &rec))

	err := alb.Parse([]byte("http 2018-07-02T22:23:00Z app/lb/1 192.0.2.1"), &rec)
	fmt.Println(err.(*alb.LineError).Reason, err)
	// Output:
	// 192.168.131.39:2817 10.0.0.1:80 200 /
	// {"@timestamp":"2018-07-02T22:23:00.186Z","event":{"kind":"event","category":["web"],"dataset":"aws.alb","duration":1000000,"outcome":"success","start":"2018-07-02T22:22:48.364Z","end":"2018-07-02T22:23:00.186Z"},"source":{"ip":"192.168.131.39","port":2817},"destination":{"ip":"10.0.0.1","port":80},"http":{"request":{"method":"GET"},"version":"1.1","response":{"status_code":200}},"url":{"original":"http://www.example.com:80/","scheme":"http","domain":"www.example.com","port":80,"path":"/"},"user_agent":{"original":"curl/7.46.0"},"cloud":{"provider":"aws"},"aws":{"elb":{"name":"app/my-loadbalancer/50dc6c495c0c9188","type":"http","target_group_arn":"arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067","trace_id":"Root=1-58337262-36d228ad5d99923122bbe354","matched_rule_priority":0,"actions_executed":["forward"],"target_port_list":["10.0.0.1:80"],"target_status_code_list":["200"],"conn_trace_id":"TID_1234abcd5678ef90","target_status_code":200,"received_bytes":34,"sent_bytes":366,"request_processing_time_ns":0,"target_processing_time_ns":1000000,"response_processing_time_ns":0}}}
	// field_count alb: too few fields: line has 4 fields: line "http 2018-07-02T22:23:00Z app/lb/1 192.0.2.1"
}
