package vpcflow_test

import (
	"fmt"

	"github.com/kinflow/kinflow/internal/format/vpcflow"
)

func ExampleParser_Parse() {
	format, _ := vpcflow.ParseFormat("${version} ${srcaddr} ${dstaddr} ${dstport} ${protocol} ${start} ${end} ${action} ${log-status}")
	parser, _ := vpcflow.NewParser(format)
	var flow vpcflow.Flow
	var enc vpcflow.Encoder
	src := vpcflow.Source{LogGroup: "/vpc/flows", LogStream: "eni-1-all", EventID: "1"}
	if err := parser.Parse(&flow, &src, "5 2001:db8::1 10.0.0.5 22 6 1795440000 1795440060 REJECT OK"); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(flow.SrcAddr, flow.DstPort, flow.Action)
	fmt.Printf("%s\n", enc.AppendDocument(nil, &flow, &src))
	// Output:
	// 2001:db8::1 22 REJECT
	// {"@timestamp":"2026-11-23T13:20:00Z","event":{"kind":"event","category":["network"],"type":["connection","denied"],"action":"reject","outcome":"failure","start":"2026-11-23T13:20:00Z","end":"2026-11-23T13:21:00Z","id":"1"},"source":{"ip":"2001:db8::1"},"destination":{"ip":"10.0.0.5","port":22},"network":{"iana_number":"6","transport":"tcp","type":"ipv6"},"cloud":{"provider":"aws"},"related":{"ip":["2001:db8::1","10.0.0.5"]},"aws":{"vpcflow":{"version":5,"log_status":"OK"},"cloudwatch":{"log_group":"/vpc/flows","log_stream":"eni-1-all"}}}
}
