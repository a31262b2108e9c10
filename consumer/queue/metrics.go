package queue

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinflow/kinflow/internal/prom"
)

type metrics struct {
	messages      *prometheus.CounterVec
	extensions    prometheus.Counter
	receiveErrors prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "kinflow", Name: "sqs_messages_total",
			Help: "SQS messages by outcome: deleted (durable), retry (a transient failure), failed (left for the DLQ), not_deleted."},
			[]string{"result"}),
		extensions: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "kinflow", Name: "sqs_visibility_extensions_total",
			Help: "Visibility timeouts extended while a message's objects were read."}),
		receiveErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "kinflow", Name: "sqs_receive_errors_total",
			Help: "Failed receives from the queue (retried with backoff)."}),
	}
	if err := prom.Register(reg, m.messages, m.extensions, m.receiveErrors); err != nil {
		return nil, fmt.Errorf("queue: registering metrics: %w", err)
	}
	return m, nil
}
