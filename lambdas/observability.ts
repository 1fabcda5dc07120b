import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { Context } from 'aws-lambda';
import { DEFAULT_METRICS_NAMESPACE, type Metric, type MetricsPort } from './core/metrics';

/**
 * The one logger, metrics and tracer every function shares (Powertools for AWS Lambda). Log keys are ids, codes,
 * sizes and timings; never image bytes, vendor_data, metadata, callback URLs or API keys. The construct sets
 * POWERTOOLS_SERVICE_NAME (one value per deployment, the metrics' `service` dimension) and
 * POWERTOOLS_METRICS_NAMESPACE; the local stack leaves both at their defaults.
 */

const serviceName = process.env.POWERTOOLS_SERVICE_NAME || 'liveness';

export const logger = new Logger({ serviceName });

export const metrics = new Metrics({
  serviceName,
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE || DEFAULT_METRICS_NAMESPACE,
});

/**
 * Tracing is on in Lambda (active tracing) and off elsewhere (Powertools checks AWS_EXECUTION_ENV). Outgoing HTTP is
 * not captured globally: that would trace every callback_url; the Didit call gets its own subsegment instead.
 */
export const tracer = new Tracer({ serviceName, captureHTTPsRequests: false });

/**
 * EMF lines only mean something where CloudWatch Logs turns them into metrics. Outside Lambda (the local stack, the
 * tests) they would only flood stdout, so metrics stay off there unless POWERTOOLS_METRICS_DISABLED=false asks.
 */
const metricsEnabled =
  process.env.AWS_LAMBDA_FUNCTION_NAME !== undefined ||
  process.env.POWERTOOLS_METRICS_DISABLED?.trim().toLowerCase() === 'false';

/** The {@link MetricsPort} services get: totals go to the invocation's EMF blob, breakdowns out as single metrics. */
export const metricsPort: MetricsPort = {
  record(metric: Metric, value: number, breakdownValue?: string): void {
    if (!metricsEnabled) return;
    const unit = MetricUnit[metric.unit];
    metrics.addMetric(metric.name, unit, value);
    if (breakdownValue !== undefined && 'breakdown' in metric) {
      // A dimension on the shared blob would apply to every metric in it; a single metric carries it alone.
      const single = metrics.singleMetric();
      single.addDimension(metric.breakdown, breakdownValue);
      single.addMetric(metric.name, unit, value);
    }
  },
};

/**
 * Wraps a thin handler: Lambda context and cold start on the logs, the ColdStart metric, a `## handler` subsegment,
 * and the metrics recorded during the invocation flushed when it ends, thrown or not. Equivalent to Powertools'
 * injectLambdaContext + captureLambdaHandler + logMetrics({ captureColdStartMetric }) without a decorator class or
 * middy. Works without a context too: the local stack calls handlers with the event alone.
 */
export function instrumented<A extends unknown[], R>(handler: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A): Promise<R> => {
    const context = lambdaContext(args[1]);
    if (context) logger.addContext(context);
    if (metricsEnabled) metrics.captureColdStartMetric(context?.functionName);
    try {
      return await inHandlerSubsegment(() => handler(...args));
    } finally {
      if (metricsEnabled && metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
      // Keys appended during the invocation (checkId, …) must not leak into the next one on a warm container.
      logger.resetKeys();
    }
  };
}

function lambdaContext(value: unknown): Context | undefined {
  const candidate = value as Partial<Context> | undefined;
  return typeof candidate?.functionName === 'string' && typeof candidate.awsRequestId === 'string'
    ? (candidate as Context)
    : undefined;
}

async function inHandlerSubsegment<R>(work: () => Promise<R>): Promise<R> {
  const parent = tracer.isTracingEnabled() ? tracer.getSegment() : undefined;
  if (!parent) return work();
  const subsegment = parent.addNewSubsegment(`## ${process.env._HANDLER ?? 'handler'}`);
  tracer.setSegment(subsegment);
  tracer.annotateColdStart();
  tracer.addServiceNameAnnotation();
  try {
    // The response is not added as metadata: a check view holds vendor_data and metadata.
    return await work();
  } catch (error) {
    tracer.addErrorAsMetadata(error as Error);
    throw error;
  } finally {
    subsegment.close();
    tracer.setSegment(parent);
  }
}

/** What a traced remote call may tell its subsegment. */
export interface RemoteCallTrace {
  /** Records the HTTP status: annotation (searchable), http response data and the error/throttle/fault flag. */
  status(statusCode: number): void;
}

/**
 * Runs one call to a remote HTTP service inside its own X-Ray subsegment, named after the host so the service map
 * shows it as a node. Only the origin and path are recorded, never headers or bodies. A no-op when not tracing.
 */
export async function traceRemoteCall<T>(
  request: { readonly origin: string; readonly path: string; readonly method: string },
  work: (trace: RemoteCallTrace) => Promise<T>,
): Promise<T> {
  const parent = tracer.isTracingEnabled() ? tracer.getSegment() : undefined;
  if (!parent) return work({ status: () => {} });
  const subsegment = parent.addNewSubsegment(new URL(request.origin).host);
  subsegment.namespace = 'remote';
  tracer.setSegment(subsegment);
  try {
    return await work({
      status(statusCode) {
        subsegment.addAnnotation('http_status', statusCode);
        subsegment.addAttribute('http', {
          request: { method: request.method, url: `${request.origin}${request.path}` },
          response: { status: statusCode },
        });
        if (statusCode === 429) subsegment.addThrottleFlag();
        if (statusCode >= 400 && statusCode <= 499) subsegment.addErrorFlag();
        if (statusCode >= 500) subsegment.addFaultFlag();
      },
    });
  } catch (error) {
    subsegment.addError(error as Error, true);
    throw error;
  } finally {
    subsegment.close();
    tracer.setSegment(parent);
  }
}
