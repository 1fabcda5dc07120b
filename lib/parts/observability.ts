import { Duration } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { COLD_START_METRIC, METRICS, type MetricDefinition, SERVICE_DIMENSION } from '../../lambdas/core/metrics';

/** Every alarm reads 5-minute periods: short enough to page within minutes, long enough to smooth single events. */
export const ALARM_PERIOD = Duration.minutes(5);

/** Share of Didit calls answered 429, in percent, at or above which the throttling alarm fires. */
export const DIDIT_THROTTLE_PERCENT = 10;

/** Share of the failure horizon a check may wait before the waits-near-the-horizon alarm fires. */
export const WAIT_ALARM_SHARE = 0.8;
/** Didit erasures refused per hour that page: a blip (one 503) stays under it, a revoked key crosses it in an hour. */
export const ERASURE_FAILURES_PER_HOUR = 3;
const ERASURE_ALARM_PERIOD = Duration.hours(1);

/** Processor invocation errors per period at or above which its alarm fires (single errors are retried). */
export const PROCESSOR_ERRORS_THRESHOLD = 5;

export interface ObservabilityProps {
  /** CloudWatch namespace the functions emit their metrics to. */
  readonly namespace: string;
  /** The `service` dimension value of this deployment's metrics (POWERTOOLS_SERVICE_NAME). */
  readonly serviceName: string;
  /** The REST API, for request and error counts. */
  readonly api: apigateway.RestApi;
  /** The S3-triggered image processor: errors and throttles are alarmed on. */
  readonly processor: lambda.IFunction;
  /** Every function, by role, for the dashboard's duration and cold-start graph. */
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  /** The Didit retry state machine: failed executions are alarmed on. */
  readonly retryStateMachine: sfn.IStateMachine;
  /** The webhook delivery state machine: failed executions are alarmed on. */
  readonly deliveryStateMachine: sfn.IStateMachine;
  /** The functions' dead-letter queue (failed asynchronous invocations). */
  readonly deadLetterQueue: sqs.IQueue;
  /** Events EventBridge could not deliver to a target. */
  readonly undeliveredEvents: sqs.IQueue;
  /** How far past its due time a check may be before the stuck-checks alarm fires. */
  readonly stuckCheckThreshold: Duration;
  /** The Didit failure horizon: the waits-near-the-horizon alarm fires at 80 % of it. */
  readonly failureHorizon: Duration;
  /** Where alarm and OK notifications go. @default - alarms only change state */
  readonly alarmTopic?: sns.ITopic;
}

/** The alarms, by what they watch. */
export interface LivenessAlarms {
  readonly processorErrors: cloudwatch.Alarm;
  readonly processorThrottles: cloudwatch.Alarm;
  readonly retryWorkflowFailed: cloudwatch.Alarm;
  readonly deliveryWorkflowFailed: cloudwatch.Alarm;
  readonly stuckChecks: cloudwatch.Alarm;
  readonly diditAuthFailures: cloudwatch.Alarm;
  readonly diditThrottling: cloudwatch.Alarm;
  readonly diditOutOfCredits: cloudwatch.Alarm;
  readonly waitsNearHorizon: cloudwatch.Alarm;
  /** Didit keeps refusing to erase deleted checks' saved sessions. */
  readonly diditErasuresFailing: cloudwatch.Alarm;
  readonly webhookDeliveryFailures: cloudwatch.Alarm;
  readonly deadLetterQueue: cloudwatch.Alarm;
  readonly undeliveredEvents: cloudwatch.Alarm;
}

/**
 * Alarms on what needs a person (each description says what to do) and one dashboard that shows the flow at a
 * glance: requests → checks → Didit → decisions → events and webhooks, with the workflows and the sweeper beside it.
 */
export class Observability extends Construct {
  public readonly alarms: LivenessAlarms;
  public readonly dashboard: cloudwatch.Dashboard;

  private readonly props: ObservabilityProps;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    this.props = props;
    const sum = (definition: MetricDefinition, label?: string) => this.metric(definition, 'Sum', label);

    this.alarms = {
      processorErrors: this.alarm('ProcessorErrors', props.processor.metricErrors({ period: ALARM_PERIOD }), {
        threshold: PROCESSOR_ERRORS_THRESHOLD,
        description:
          'The liveness processor failed invocations (not checks: those end FAILED with a code). S3 retries them ' +
          'twice, then they go to the dead-letter queue. Read the processor log group for errorName.',
      }),
      processorThrottles: this.alarm('ProcessorThrottles', props.processor.metricThrottles({ period: ALARM_PERIOD }), {
        threshold: 1,
        description:
          'Lambda throttled the liveness processor: uploads wait or land in the dead-letter queue. Raise the ' +
          "account's concurrency quota or reserve concurrency for the processor.",
      }),
      retryWorkflowFailed: this.alarm(
        'RetryWorkflowFailed',
        props.retryStateMachine.metricFailed({ period: ALARM_PERIOD }),
        {
          threshold: 1,
          description:
            'A Didit retry execution failed instead of ending the check: the GiveUp task itself kept failing. The ' +
            'sweeper will hand the check to a new round; read the execution history for the failing task.',
        },
      ),
      deliveryWorkflowFailed: this.alarm(
        'DeliveryWorkflowFailed',
        props.deliveryStateMachine.metricFailed({ period: ALARM_PERIOD }),
        {
          threshold: 1,
          description:
            'A webhook delivery execution failed (its tasks kept failing), so a callback was neither delivered ' +
            'nor reported. Read the execution history.',
        },
      ),
      stuckChecks: this.alarm('StuckChecks', this.metric(METRICS.oldestDueCheckAge, 'Maximum'), {
        threshold: props.stuckCheckThreshold.toSeconds(),
        // The sweeper reports every minute, 0 included: no value means it is not running.
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        description:
          `A check has been past its due time for ${props.stuckCheckThreshold.toHumanString()} or more, or the ` +
          'sweeper stopped reporting. Read the sweeper log group and its errors.',
      }),
      diditAuthFailures: this.alarm('DiditAuthFailures', sum(METRICS.diditAuthFailures), {
        threshold: 1,
        description:
          'Didit refused the API key (401/403): every check fails with DIDIT_AUTH_FAILED until the secret holds a ' +
          'valid key. Set it with the SetDiditApiKeyCommand stack output.',
      }),
      diditThrottling: this.alarm(
        'DiditThrottling',
        new cloudwatch.MathExpression({
          expression: '100 * FILL(throttled, 0) / calls',
          usingMetrics: { throttled: sum(METRICS.diditThrottled), calls: sum(METRICS.diditCalls) },
          period: ALARM_PERIOD,
          label: 'Didit calls answered 429 (%)',
        }),
        {
          threshold: DIDIT_THROTTLE_PERCENT,
          evaluationPeriods: 3,
          datapointsToAlarm: 2,
          description:
            `At least ${DIDIT_THROTTLE_PERCENT}% of Didit calls were refused (429) in 2 of the last 3 periods although ` +
            'every call is paced: something else spends the same Didit application limit, or the budget ' +
            '(diditRequestsPerMinute) is above it. Checks wait, they do not fail; lower the budget or ask Didit for more.',
        },
      ),
      diditOutOfCredits: this.alarm('DiditOutOfCredits', this.metric(METRICS.diditCircuitOpen, 'Maximum'), {
        threshold: 1,
        description:
          'Didit cannot charge checks (402: the prepaid balance is empty). No check calls Didit but one probe per ' +
          'interval; every check waits and resumes by itself once a probe succeeds, until the failure horizon ' +
          'fails it DIDIT_OUT_OF_CREDITS. Top up the Didit balance (console → Billing) now.',
      }),
      waitsNearHorizon: this.alarm('WaitsNearHorizon', this.metric(METRICS.oldestWaitAge, 'Maximum'), {
        threshold: Math.round(props.failureHorizon.toSeconds() * WAIT_ALARM_SHARE),
        description:
          `A check has waited ${Math.round(WAIT_ALARM_SHARE * 100)}% of the failure horizon ` +
          `(${props.failureHorizon.toHumanString()}) for Didit: out of credits, Didit failing, or a backlog above ` +
          'the budget (WaitingChecks on the dashboard). Past the horizon, checks held up by an outage fail.',
      }),
      diditErasuresFailing: this.alarm(
        'DiditErasuresFailing',
        this.metric(METRICS.diditErasureFailures, 'Sum').with({ period: ERASURE_ALARM_PERIOD }),
        {
          threshold: ERASURE_FAILURES_PER_HOUR,
          description:
            `Didit refused or failed to erase deleted checks' saved sessions ${ERASURE_FAILURES_PER_HOUR} or more times ` +
            'in an hour (one failing erasure is retried after 1, 2, 4… minutes, so it crosses this within its first ' +
            "hour). The sweeper keeps retrying until the tombstone's end; didit_erasure_error on the tombstone says " +
            'why (a wrong or revoked key: set the secret; 5xx: Didit is down). Erasure requests are a legal duty.',
        },
      ),
      webhookDeliveryFailures: this.alarm('WebhookDeliveryFailures', sum(METRICS.webhookDeliveryFailures), {
        threshold: 1,
        description:
          'A callback_url did not accept a check event within the retry horizon (or refused it); the receiver ' +
          'missed a result. "Liveness Webhook Delivery Failed" on the bus names the check.',
      }),
      deadLetterQueue: this.alarm(
        'DeadLetterQueue',
        props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: ALARM_PERIOD, statistic: 'Maximum' }),
        {
          threshold: 1,
          description:
            'An asynchronous invocation (an S3 upload event, a sweeper tick) failed after its retries and is in the ' +
            'dead-letter queue; the sweeper still expires or retries the check. Inspect the message (event, error ' +
            'in its attributes), then purge it (docs/operations.md, dead letters).',
        },
      ),
      undeliveredEvents: this.alarm(
        'UndeliveredEvents',
        props.undeliveredEvents.metricApproximateNumberOfMessagesVisible({
          period: ALARM_PERIOD,
          statistic: 'Maximum',
        }),
        {
          threshold: 1,
          description:
            'EventBridge could not hand an event to its target for 24 hours: a check event never started its ' +
            'webhook delivery (the receiver missed a result), or a sweeper tick was lost. Replay it from the queue ' +
            '(docs/operations.md, dead letters).',
        },
      ),
    };

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(3),
      widgets: this.dashboardRows(),
    });
  }

  /** A custom metric of this deployment (total, or the breakdown series for one dimension value). */
  private metric(
    definition: MetricDefinition,
    statistic: string,
    label?: string,
    breakdownValue?: string,
  ): cloudwatch.Metric {
    const dimensionsMap: Record<string, string> = { [SERVICE_DIMENSION]: this.props.serviceName };
    if (breakdownValue !== undefined && definition.breakdown) dimensionsMap[definition.breakdown] = breakdownValue;
    return new cloudwatch.Metric({
      namespace: this.props.namespace,
      metricName: definition.name,
      dimensionsMap,
      statistic,
      period: ALARM_PERIOD,
      ...(label ? { label } : {}),
    });
  }

  /**
   * Every series of a metric split by one more dimension (a breakdown, or Powertools' function_name), found by a
   * SEARCH expression: the values (error codes, statuses) are unknown at synth. Dashboards only; alarms cannot search.
   */
  private search(metricName: string, dimension: string, label: string): cloudwatch.MathExpression {
    const { namespace, serviceName } = this.props;
    return new cloudwatch.MathExpression({
      expression:
        `SEARCH('{${namespace},${SERVICE_DIMENSION},${dimension}} MetricName="${metricName}" ` +
        `${SERVICE_DIMENSION}="${serviceName}"', 'Sum', ${ALARM_PERIOD.toSeconds()})`,
      label,
      usingMetrics: {},
      period: ALARM_PERIOD,
    });
  }

  private alarm(
    id: string,
    metric: cloudwatch.IMetric,
    opts: {
      threshold: number;
      description: string;
      evaluationPeriods?: number;
      datapointsToAlarm?: number;
      treatMissingData?: cloudwatch.TreatMissingData;
    },
  ): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, {
      metric,
      threshold: opts.threshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: opts.evaluationPeriods ?? 1,
      datapointsToAlarm: opts.datapointsToAlarm ?? 1,
      // Counts only exist when something happened: no data is the good case.
      treatMissingData: opts.treatMissingData ?? cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: opts.description,
    });
    if (this.props.alarmTopic) {
      const action = new actions.SnsAction(this.props.alarmTopic);
      alarm.addAlarmAction(action);
      // The recovery is sent too, so whoever was paged knows it is over.
      alarm.addOkAction(action);
    }
    return alarm;
  }

  private dashboardRows(): cloudwatch.IWidget[][] {
    const { api, processor, functions, retryStateMachine, deliveryStateMachine, deadLetterQueue, undeliveredEvents } =
      this.props;
    const sum = (definition: MetricDefinition, label: string) => this.metric(definition, 'Sum', label);
    const graph = (title: string, left: cloudwatch.IMetric[], extra: Partial<cloudwatch.GraphWidgetProps> = {}) =>
      new cloudwatch.GraphWidget({ title, left, width: 8, height: 6, ...extra });
    const byFunction = (make: (fn: lambda.IFunction) => cloudwatch.IMetric) =>
      Object.entries(functions).map(([name, fn]) => {
        const metric = make(fn) as cloudwatch.Metric;
        return metric.with({ label: name });
      });

    return [
      [
        new cloudwatch.TextWidget({
          markdown:
            '## Liveness checks\nAPI → upload → processor (sharp, pre-screen, Didit) → decision → events and ' +
            'webhooks. Alarms below page through the alarm topic; each description says what to do.',
          width: 24,
          height: 2,
        }),
      ],
      [
        new cloudwatch.AlarmStatusWidget({
          title: 'Alarms',
          alarms: Object.values(this.alarms),
          width: 24,
          height: 3,
        }),
      ],
      [
        graph('API requests and errors', [
          api.metricCount({ label: 'requests', period: ALARM_PERIOD }),
          api.metricClientError({ label: '4xx', period: ALARM_PERIOD }),
          api.metricServerError({ label: '5xx', period: ALARM_PERIOD }),
        ]),
        graph('Checks', [
          sum(METRICS.checksCreated, 'created'),
          sum(METRICS.checksStarted, 'started (uploaded)'),
          sum(METRICS.checksCompleted, 'completed'),
          sum(METRICS.checksFailed, 'failed'),
          sum(METRICS.checksRetrying, 'to retry workflow'),
          sum(METRICS.checksExpired, 'expired (no upload)'),
        ]),
        graph('Decisions', [
          sum(METRICS.checksApproved, 'Approved'),
          sum(METRICS.checksDeclined, 'Declined'),
          sum(METRICS.prescreenRejections, 'no face (pre-screen)'),
        ]),
      ],
      [
        graph('Failed checks by code', [this.search(METRICS.checksFailed.name, METRICS.checksFailed.breakdown, '')]),
        graph('Didit calls by status', [this.search(METRICS.diditCalls.name, METRICS.diditCalls.breakdown, '')], {
          right: [sum(METRICS.diditAuthFailures, '401/403'), sum(METRICS.diditThrottled, '429')],
        }),
        graph('Didit latency (ms)', [
          this.metric(METRICS.diditLatency, 'p50', 'p50'),
          this.metric(METRICS.diditLatency, 'p90', 'p90'),
          this.metric(METRICS.diditLatency, 'p99', 'p99'),
        ]),
      ],
      [
        graph('Image bytes', [
          this.metric(METRICS.imageBytesIn, 'Average', 'in (avg)'),
          this.metric(METRICS.imageBytesOut, 'Average', 'out to Didit (avg)'),
          this.metric(METRICS.imageBytesIn, 'Maximum', 'in (max)'),
        ]),
        graph(
          'Processor',
          [
            processor.metricInvocations({ period: ALARM_PERIOD, label: 'invocations' }),
            processor.metricErrors({ period: ALARM_PERIOD, label: 'errors' }),
            processor.metricThrottles({ period: ALARM_PERIOD, label: 'throttles' }),
          ],
          {
            right: [
              deadLetterQueue.metricApproximateNumberOfMessagesVisible({
                period: ALARM_PERIOD,
                statistic: 'Maximum',
                label: 'failed invocations',
              }),
              undeliveredEvents.metricApproximateNumberOfMessagesVisible({
                period: ALARM_PERIOD,
                statistic: 'Maximum',
                label: 'undelivered events',
              }),
            ],
          },
        ),
        graph(
          'Function duration p99 (ms)',
          byFunction((fn) => fn.metricDuration({ period: ALARM_PERIOD, statistic: 'p99' })),
          { right: [this.search(COLD_START_METRIC, 'function_name', 'cold starts')] },
        ),
      ],
      [
        graph('Didit budget: permits and refusals', [
          this.search(METRICS.diditPermits.name, METRICS.diditPermits.breakdown, ''),
          sum(METRICS.diditThrottled, 'refused (429)'),
          sum(METRICS.diditOutOfCredits, 'out of credits (402)'),
        ]),
        graph('Waiting checks', [this.metric(METRICS.waitingChecks, 'Maximum', 'waiting now')], {
          right: [this.metric(METRICS.oldestWaitAge, 'Maximum', 'oldest wait (s)')],
        }),
        graph('Why checks wait', [this.search(METRICS.checksWaiting.name, METRICS.checksWaiting.breakdown, '')], {
          right: [this.metric(METRICS.diditCircuitOpen, 'Maximum', 'out-of-credits circuit open')],
        }),
      ],
      [
        graph('Retry workflow', [
          retryStateMachine.metricStarted({ period: ALARM_PERIOD, label: 'started' }),
          retryStateMachine.metricSucceeded({ period: ALARM_PERIOD, label: 'succeeded' }),
          retryStateMachine.metricFailed({ period: ALARM_PERIOD, label: 'failed' }),
        ]),
        graph(
          'Webhooks',
          [
            this.metric(METRICS.webhookAttempts, 'Sum', 'delivered', 'delivered'),
            this.metric(METRICS.webhookAttempts, 'Sum', 'retry', 'retry'),
            this.metric(METRICS.webhookAttempts, 'Sum', 'refused (give up)', 'give_up'),
            sum(METRICS.webhookDeliveryFailures, 'deliveries failed'),
          ],
          { right: [deliveryStateMachine.metricFailed({ period: ALARM_PERIOD, label: 'executions failed' })] },
        ),
        graph(
          'Sweeper',
          [
            sum(METRICS.checksHandedOff, 'handed to a new round'),
            sum(METRICS.eventsRepublished, 'events republished'),
            sum(METRICS.checksExpired, 'expired'),
            sum(METRICS.diditErasureFailures, 'Didit erasures refused'),
          ],
          { right: [this.metric(METRICS.oldestDueCheckAge, 'Maximum', 'oldest due check (s)')] },
        ),
      ],
    ];
  }
}
