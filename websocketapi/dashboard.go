package websocketapi

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/jsii-runtime-go"

	"wsapi/contract"
)

// dashboardPeriod is every dashboard graph's period.
var dashboardPeriod = AlarmSetting{Period: DefaultAlarmSettings.IntegrationErrors.Period}

// addDashboard defines one dashboard: connections, messages, the alarms'
// metrics and latency. The README lists its widgets.
func (b *builder) addDashboard() {
	p := dashboardPeriod
	api := func(name, statistic, label string) awscloudwatch.IMetric {
		return b.apiMetric(name, statistic, p).With(&awscloudwatch.MetricOptions{Label: jsii.String(label)})
	}
	emf := func(name, function string) awscloudwatch.IMetric {
		return b.emfMetric(name, function, p).With(&awscloudwatch.MetricOptions{Label: jsii.String(name)})
	}
	graph := func(title string, left []awscloudwatch.IMetric, right []awscloudwatch.IMetric) awscloudwatch.IWidget {
		props := &awscloudwatch.GraphWidgetProps{Title: jsii.String(title), Left: &left, Width: jsii.Number(12), Height: jsii.Number(6)}
		if len(right) > 0 {
			props.Right = &right
		}
		return awscloudwatch.NewGraphWidget(props)
	}
	fnMetrics := func(metric func(f *function) awscloudwatch.IMetric) []awscloudwatch.IMetric {
		var out []awscloudwatch.IMetric
		for _, f := range b.apiFunctions() {
			out = append(out, metric(f))
		}
		return out
	}
	labelled := func(m awscloudwatch.IMetric, label string) awscloudwatch.IMetric {
		return m.(awscloudwatch.Metric).With(&awscloudwatch.MetricOptions{Label: jsii.String(label)})
	}
	opts := func(statistic string) *awscloudwatch.MetricOptions { return b.metricOptions(statistic, p) }

	rows := [][]awscloudwatch.IWidget{
		{
			graph("Connections opened and closed",
				[]awscloudwatch.IMetric{
					api("ConnectCount", "Sum", "ConnectCount ($connect requests)"),
					emf(contract.MetricConnected, contract.FunctionConnect),
					emf(contract.MetricConnectFailed, contract.FunctionConnect),
					emf(contract.MetricDisconnected, contract.FunctionDisconnect),
					emf(contract.MetricDisconnectFailed, contract.FunctionDisconnect),
				}, nil),
			graph("Messages",
				[]awscloudwatch.IMetric{
					api("MessageCount", "Sum", "MessageCount (to and from clients)"),
					emf(contract.MetricDelivered, contract.FunctionMessage),
					emf(contract.MetricStale, contract.FunctionMessage),
					emf(contract.MetricPostFailed, contract.FunctionMessage),
					emf(contract.MetricRecipients, contract.FunctionMessage),
				}, nil),
		},
		{
			graph("API errors",
				[]awscloudwatch.IMetric{
					api("IntegrationError", "Sum", "IntegrationError"),
					api("ExecutionError", "Sum", "ExecutionError"),
					api("ClientError", "Sum", "ClientError"),
				}, nil),
			graph("Authorizer decisions",
				[]awscloudwatch.IMetric{
					emf(contract.MetricAuthAccepted, contract.FunctionAuthorizer),
					emf(contract.MetricAuthRefused, contract.FunctionAuthorizer),
				}, nil),
		},
		{
			graph("Function errors and throttles",
				append(
					fnMetrics(func(f *function) awscloudwatch.IMetric {
						if f == b.authorizer {
							// Its refusals are Lambda errors too.
							return labelled(f.fn.MetricErrors(opts("Sum")), f.name+" Errors (refusals included)")
						}
						return labelled(f.fn.MetricErrors(opts("Sum")), f.name+" Errors")
					}),
					fnMetrics(func(f *function) awscloudwatch.IMetric {
						return labelled(f.fn.MetricThrottles(opts("Sum")), f.name+" Throttles")
					})...), nil),
			graph("Function duration p99 (ms)",
				fnMetrics(func(f *function) awscloudwatch.IMetric {
					return labelled(f.fn.MetricDuration(opts("p99")), f.name+" p99")
				}), nil),
		},
		{
			graph("Latency (ms): messages and connects",
				[]awscloudwatch.IMetric{
					api("IntegrationLatency", "p50", "IntegrationLatency p50 (all routes)"),
					api("IntegrationLatency", "p99", "IntegrationLatency p99 (all routes)"),
					labelled(b.message.fn.MetricDuration(opts("p99")), "message function p99"),
					b.emfMetric(contract.MetricFanOutDuration, contract.FunctionMessage, p).With(&awscloudwatch.MetricOptions{
						Statistic: jsii.String("p99"), Label: jsii.String("FanOutDuration p99 (listing and posting)"),
					}),
					labelled(b.authorizer.fn.MetricDuration(opts("p50")), "authorizer function p50 (connects)"),
					labelled(b.authorizer.fn.MetricDuration(opts("p99")), "authorizer function p99 (connects)"),
				}, nil),
			graph("DynamoDB (connections table)",
				[]awscloudwatch.IMetric{
					b.tableMetric("ThrottledRequests", "throttled", p),
					b.tableMetric("SystemErrors", "errors", p),
				}, nil),
		},
		{
			graph("Broadcasts (fanout function)",
				[]awscloudwatch.IMetric{
					emf(contract.MetricDelivered, contract.FunctionFanOut),
					emf(contract.MetricStale, contract.FunctionFanOut),
					emf(contract.MetricPostFailed, contract.FunctionFanOut),
					emf(contract.MetricPostThrottled, contract.FunctionFanOut),
					emf(contract.MetricJobShards, contract.FunctionFanOut),
				}, nil),
			graph("Fan-out queue",
				[]awscloudwatch.IMetric{
					labelled(b.fanOut.queue.MetricApproximateNumberOfMessagesVisible(opts("Maximum")), "waiting jobs and shards"),
					labelled(b.fanOut.queue.MetricApproximateAgeOfOldestMessage(opts("Maximum")), "oldest message age (s)"),
					labelled(b.fanOut.deadLetter.MetricApproximateNumberOfMessagesVisible(opts("Maximum")), "dead letters"),
				}, nil),
		},
	}
	if len(b.obs.order) > 0 {
		alarms := make([]interfacesawscloudwatch.IAlarmRef, 0, len(b.obs.order))
		for _, id := range b.obs.order {
			alarms = append(alarms, b.obs.alarms[id])
		}
		rows = append(rows, []awscloudwatch.IWidget{awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
			Title: jsii.String("Alarms"), Alarms: &alarms, Width: jsii.Number(24), Height: jsii.Number(6),
		})})
	}
	widgets := make([]*[]awscloudwatch.IWidget, len(rows))
	for i := range rows {
		widgets[i] = &rows[i]
	}
	b.obs.dashboard = awscloudwatch.NewDashboard(b.Construct, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		Widgets: &widgets,
	})
}
