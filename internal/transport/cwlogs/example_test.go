package cwlogs_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"

	"github.com/kinflow/kinflow/internal/transport/cwlogs"
)

// A Kinesis record's data as a CloudWatch Logs subscription delivers it: the envelope AWS documents (three VPC flow
// log events of one ENI), gzip'd. Decode gunzips it and reads the envelope; the events' strings share one buffer.
func ExampleDecoder_Decode() {
	envelope, err := os.ReadFile("testdata/aws-data.json")
	if err != nil {
		panic(err)
	}
	var record bytes.Buffer
	zw := gzip.NewWriter(&record)
	zw.Write(envelope)
	zw.Close()

	d, err := cwlogs.NewDecoder(cwlogs.DefaultConfig())
	if err != nil {
		panic(err)
	}
	var env cwlogs.Envelope // reused across records: Decode keeps its slices
	if err := d.Decode(&env, record.Bytes()); err != nil {
		panic(err) // an *cwlogs.Error: permanent, for the dead-letter index
	}
	if env.IsControl() {
		return // the subscription's reachability check: no log data
	}
	fmt.Println(env.MessageType, env.Owner, env.LogGroup, env.LogStream, env.SubscriptionFilters)
	for _, ev := range env.LogEvents {
		fmt.Println(ev.Timestamp, ev.Message)
	}
	// Output:
	// DATA_MESSAGE 123456789010 /vpc/flowlogs/prod eni-1235b8ca123456789-all [kinflow]
	// 1418530070000 2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK
	// 1418530070000 2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK
	// 1431280934000 2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA
}
