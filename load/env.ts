/**
 * Imported first by run.ts: the handlers' shared Powertools logger reads its level once, when lambdas/observability
 * is first imported — and the ledger imports adapters, so that happens before run.ts's own code runs. Expected
 * refusals and retries log per check at INFO/WARN; here the report is the output (POWERTOOLS_LOG_LEVEL=WARN shows them).
 */
process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
