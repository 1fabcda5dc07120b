import { Logger } from '@aws-lambda-powertools/logger';

/**
 * The one logger every function shares. Log keys are ids, codes, sizes and timings; never image bytes, vendor_data,
 * metadata, callback URLs or API keys.
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'liveness' });
