package webhook_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"

	"github.com/kinflow/kinflow/aggregate"
	"github.com/kinflow/kinflow/internal/webhook"
)

func ExampleClient_Deliver() {
	// A receiver of the original connection-set API.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Println(r.Method, r.URL.Path)
		fmt.Println("Idempotency-Key:", r.Header.Get("Idempotency-Key"))
		fmt.Println("X-Kinflow-Chunk:", r.Header.Get("X-Kinflow-Chunk"))
		fmt.Println("X-Kinflow-Signature:", r.Header.Get("X-Kinflow-Signature"))
		// webhook-timestamp and webhook-signature change with the attempt's time: verify them with a Standard
		// Webhooks library (see SignStandard) rather than printing them.
		fmt.Println("webhook-id:", r.Header.Get("webhook-id"))
		fmt.Println(string(body))
	}))
	defer srv.Close()

	cfg := webhook.DefaultConfig()
	cfg.URL = srv.URL + "/connection_sets/{bucket_time}"
	cfg.Secret = []byte("shared secret")
	client, err := webhook.New(cfg, webhook.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	set := func(ip string, peers uint64) aggregate.Final {
		return aggregate.Final{Revision: 1, ConnSet: aggregate.ConnSet{
			WindowStart: 1700000400, WindowEnd: 1700001000, IP: netip.MustParseAddr(ip), PeersCount: peers}}
	}
	chunk := &webhook.Chunk{WindowStart: 1700000400, WindowEnd: 1700001000, Revision: 1, Index: 0, Last: true,
		Sets: []aggregate.Final{set("10.0.0.1", 12), set("10.0.0.2", 3)}}
	if err := client.Deliver(context.Background(), chunk); err != nil {
		fmt.Println(err) // a *webhook.DeliveryError goes to the dead letters; a context error is retried later
	}
	// Output:
	// POST /connection_sets/1700000400
	// Idempotency-Key: kinflow-1700000400-r1-c0
	// X-Kinflow-Chunk: 0; last
	// X-Kinflow-Signature: sha256=fd9e765219b9530093ad8f967cff1b0a112e7dd0bc777d486031d3a08e647070
	// webhook-id: kinflow-1700000400-r1-c0
	// {"10.0.0.1":12,"10.0.0.2":3}
}
