package nlb_test

import (
	"fmt"

	"github.com/kinflow/kinflow/internal/format/nlb"
)

func ExampleParse() {
	// The ALPN example of AWS's documentation.
	line := `tls 2.0 2020-04-01T08:51:42 net/my-network-loadbalancer/c6e77e28c25b2234 g3d4b5e8bb8464cd 72.21.218.154:51341 172.100.100.185:443 5 2 98 246 - arn:aws:acm:us-east-2:671290407336:certificate/2a108f19-aded-46b0-8493-c63eb1ef4a99 - ECDHE-RSA-AES128-SHA tlsv12 - my-network-loadbalancer-c6e77e28c25b2234.elb.us-east-2.amazonaws.com h2 h2 "h2","http/1.1" 2020-04-01T08:51:20`
	var rec nlb.Record
	if err := nlb.Parse([]byte(line), &rec); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rec.Client, rec.Destination, rec.ConnectionTime, len(rec.ALPNClientPreferences))
	var enc nlb.Encoder
	fmt.Printf("%s\n", enc.AppendDocument(nil, &rec))
	// Output:
	// 72.21.218.154:51341 172.100.100.185:443 5000000 2
	// {"@timestamp":"2020-04-01T08:51:42Z","event":{"kind":"event","category":["network"],"dataset":"aws.nlb","duration":5000000,"outcome":"success","start":"2020-04-01T08:51:20Z","end":"2020-04-01T08:51:42Z"},"source":{"ip":"72.21.218.154","port":51341},"destination":{"ip":"172.100.100.185","port":443},"tls":{"cipher":"ECDHE-RSA-AES128-SHA","version":"1.2","version_protocol":"tls","established":true,"client":{"server_name":"my-network-loadbalancer-c6e77e28c25b2234.elb.us-east-2.amazonaws.com"},"next_protocol":"h2"},"cloud":{"provider":"aws"},"aws":{"elb":{"name":"net/my-network-loadbalancer/c6e77e28c25b2234","type":"tls","version":"2.0","listener":"g3d4b5e8bb8464cd","chosen_cert_arn":"arn:aws:acm:us-east-2:671290407336:certificate/2a108f19-aded-46b0-8493-c63eb1ef4a99","received_bytes":98,"sent_bytes":246,"tls_handshake_time_ns":2000000,"alpn_be_protocol":"h2","alpn_client_preference_list":["h2","http/1.1"]}}}
}
