/**
 * The environment of a benchmark that hosts the functions in its own process, set on import, so
 * before any function module loads: what a local node gives its functions (no tracing, no metrics
 * output, errors only in the logs). Tracing off also keeps the X-Ray SDK's async hook out
 * (functions/shared/observability/xray-context-mode.ts), as on a local node.
 */
process.env['POWERTOOLS_LOG_LEVEL'] = 'ERROR';
process.env['POWERTOOLS_METRICS_DISABLED'] = 'true';
process.env['POWERTOOLS_TRACE_ENABLED'] = 'false';
