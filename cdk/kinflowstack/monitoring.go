package kinflowstack

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// MonitoringProps names what to watch; nil parts belong to the other mode.
type MonitoringProps struct {
	Config   AlarmsConfig
	Stream   *Stream
	Lambda   *LambdaProcessor
	Consumer *ConsumerService
	Intake   *S3Intake
}

// Monitoring owns the alarms (iterator age, errors, dead letters, throttles) and the dashboard.
type Monitoring struct {
	constructs.Construct
	Alarms      []awscloudwatch.Alarm
	Dashboard   awscloudwatch.Dashboard
	DeadLetters awscloudwatch.Metric
}

// The runtimes log one JSON line per batch; its integer field dead_letters counts the records and lines sent to the
// dead-letter index. A metric filter turns it into the DeadLetters metric.
const deadLetterField = "dead_letters"

// NewMonitoring creates alarms and the dashboard.
func NewMonitoring(scope constructs.Construct, id string, p MonitoringProps) *Monitoring {
	c := constructs.NewConstruct(scope, jsii.String(id))
	m := &Monitoring{Construct: c}
	cfg := p.Config
	five := awscdk.Duration_Minutes(jsii.Number(5))
	var action awscloudwatch.IAlarmAction
	if cfg.TopicARN != "" {
		action = awscloudwatchactions.NewSnsAction(awssns.Topic_FromTopicArn(c, jsii.String("Topic"), jsii.String(cfg.TopicARN)))
	}
	alarm := func(id, what string, metric awscloudwatch.IMetric, threshold float64, op awscloudwatch.ComparisonOperator) {
		a := awscloudwatch.NewAlarm(c, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String("kinflow: " + what),
			Metric:             metric,
			Threshold:          jsii.Number(threshold),
			ComparisonOperator: op,
			EvaluationPeriods:  jsii.Number(1),
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		if action != nil {
			a.AddAlarmAction(action)
			a.AddOkAction(action)
		}
		m.Alarms = append(m.Alarms, a)
	}
	gt := awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD
	ge := awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD
	ageMs := float64(cfg.IteratorAgeMinutes) * 60_000
	sum := &awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: five}
	max := &awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum"), Period: five}

	stream := p.Stream.Stream
	alarm("StreamWriteThrottles", "CloudWatch Logs is throttled putting into the stream (add shards or use on-demand)",
		stream.MetricPutRecordsThrottledRecords(sum), 0, gt)

	m.DeadLetters = awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String(MetricsNamespace), MetricName: jsii.String("DeadLetters"),
		DimensionsMap: &map[string]*string{"Stack": awscdk.Aws_STACK_NAME()},
		Statistic:     jsii.String("Sum"), Period: five,
	})
	var runtimeLogs []awslogs.LogGroup
	var left, right []awscloudwatch.IWidget
	left = append(left, graph("Stream: incoming records", stream.MetricIncomingRecords(sum)),
		graph("Stream: put throttles", stream.MetricPutRecordsThrottledRecords(sum)))

	switch {
	case p.Lambda != nil:
		l := p.Lambda
		runtimeLogs = append(runtimeLogs, l.LogGroups()...)
		age := l.Batch.Metric(jsii.String("IteratorAge"), max)
		alarm("IteratorAge", fmt.Sprintf("the batch function is more than %d minutes behind the stream", cfg.IteratorAgeMinutes), age, ageMs, gt)
		alarm("BatchErrors", "the batch function failed invocations (records are retried, then bisected, then sent to the queue)",
			l.Batch.MetricErrors(sum), 0, gt)
		alarm("FinalizerErrors", "the finalizer failed: windows are not being closed", l.Finalizer.MetricErrors(sum), 0, gt)
		alarm("BatchThrottles", "the batch function is throttled (account concurrency)", l.Batch.MetricThrottles(sum), 0, gt)
		alarm("FinalizerThrottles", "the finalizer is throttled (account concurrency)", l.Finalizer.MetricThrottles(sum), 0, gt)
		alarm("FailedBatches", "the event source mapping gave up on records and sent them to the queue",
			l.DeadLetters.MetricApproximateNumberOfMessagesVisible(max), 0, gt)
		right = append(right,
			graph("Batch function: iterator age (ms)", age),
			graph("Functions: errors", l.Batch.MetricErrors(sum), l.Finalizer.MetricErrors(sum)),
			graph("Functions: throttles", l.Batch.MetricThrottles(sum), l.Finalizer.MetricThrottles(sum)),
			graph("Functions: duration (ms)", l.Batch.MetricDuration(max), l.Finalizer.MetricDuration(max)),
			graph("Failed batches in the queue", l.DeadLetters.MetricApproximateNumberOfMessagesVisible(max)))
	case p.Consumer != nil:
		s := p.Consumer
		runtimeLogs = append(runtimeLogs, s.Logs)
		age := stream.MetricGetRecordsIteratorAgeMilliseconds(max)
		alarm("IteratorAge", fmt.Sprintf("the consumer is more than %d minutes behind the stream", cfg.IteratorAgeMinutes), age, ageMs, gt)
		alarm("ReadThrottles", "reads from the stream are throttled", stream.MetricReadProvisionedThroughputExceeded(sum), 0, gt)
		running := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String("ECS/ContainerInsights"), MetricName: jsii.String("RunningTaskCount"),
			DimensionsMap: &map[string]*string{"ClusterName": s.Cluster.ClusterName(), "ServiceName": s.Service.ServiceName()},
			Statistic:     jsii.String("Minimum"), Period: five,
		})
		alarm("NoWorkers", "no consumer task is running", running, 1, awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD)
		right = append(right,
			graph("Consumer: iterator age (ms)", age),
			graph("Stream: read throttles", stream.MetricReadProvisionedThroughputExceeded(sum)),
			graph("Consumer: CPU and memory (%)", s.Service.MetricCpuUtilization(nil), s.Service.MetricMemoryUtilization(nil)),
			graph("Consumer: running tasks", running))
	}
	if in := p.Intake; in != nil {
		alarm("S3DeadLetters", "S3 notifications went to the intake's dead-letter queue: their objects could not be read "+
			"(see the runtime's logs; redrive the queue once fixed)",
			in.DeadLetters.MetricApproximateNumberOfMessagesVisible(max), 0, gt)
		widgets := []awscloudwatch.IWidget{
			graph("S3 intake: notifications waiting and in flight", in.Queue.MetricApproximateNumberOfMessagesVisible(max),
				in.Queue.MetricApproximateNumberOfMessagesNotVisible(max)),
			graph("S3 intake: oldest notification (s)", in.Queue.MetricApproximateAgeOfOldestMessage(max)),
			graph("S3 intake: dead letters", in.DeadLetters.MetricApproximateNumberOfMessagesVisible(max)),
		}
		if l := p.Lambda; l != nil && l.Objects != nil {
			alarm("ObjectsErrors", "the objects function failed invocations (their notifications are received again, then dead-lettered)",
				l.Objects.MetricErrors(sum), 0, gt)
			widgets = append(widgets, graph("Objects function: errors and throttles", l.Objects.MetricErrors(sum), l.Objects.MetricThrottles(sum)),
				graph("Objects function: duration (ms)", l.Objects.MetricDuration(max)))
		}
		right = append(right, widgets...)
	}
	for i, lg := range runtimeLogs {
		awslogs.NewMetricFilter(c, jsii.String(fmt.Sprintf("DeadLetterFilter%d", i)), &awslogs.MetricFilterProps{
			LogGroup:        lg,
			FilterPattern:   awslogs.FilterPattern_NumberValue(jsii.String("$."+deadLetterField), jsii.String(">"), jsii.Number(0)),
			MetricNamespace: m.DeadLetters.Namespace(),
			MetricName:      m.DeadLetters.MetricName(),
			MetricValue:     jsii.String("$." + deadLetterField),
			Dimensions:      &map[string]*string{"Stack": awscdk.Aws_STACK_NAME()},
		})
	}
	alarm("DeadLetters", "records or lines went to the dead-letter index (see kinflow-deadletter)", m.DeadLetters,
		float64(cfg.DeadLettersPer5Min), ge)
	left = append(left, graph("Dead letters", m.DeadLetters))

	props := &awscloudwatch.DashboardProps{
		Widgets: &[]*[]awscloudwatch.IWidget{
			{awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
				Title: jsii.String("kinflow alarms"), Alarms: alarmsOf(m.Alarms), Width: jsii.Number(24),
			})},
			{awscloudwatch.NewColumn(left...), awscloudwatch.NewColumn(right...)},
		},
	}
	if cfg.DashboardName != "" {
		props.DashboardName = jsii.String(cfg.DashboardName)
	}
	m.Dashboard = awscloudwatch.NewDashboard(c, jsii.String("Dashboard"), props)
	return m
}

func graph(title string, metrics ...awscloudwatch.IMetric) awscloudwatch.IWidget {
	return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
		Title: jsii.String(title), Left: &metrics, Width: jsii.Number(12), Height: jsii.Number(6),
	})
}

func alarmsOf(as []awscloudwatch.Alarm) *[]interfacesawscloudwatch.IAlarmRef {
	out := make([]interfacesawscloudwatch.IAlarmRef, len(as))
	for i, a := range as {
		out[i] = a
	}
	return &out
}
