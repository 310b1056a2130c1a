// Settings every test process shares, unit and integration alike.

// Emulators and fakes accept any credentials; set them so the SDK never looks for real ones.
process.env['AWS_ACCESS_KEY_ID'] ??= 'test';
process.env['AWS_SECRET_ACCESS_KEY'] ??= 'test';
process.env['AWS_REGION'] ??= 'us-east-1';
process.env['POWERTOOLS_TRACE_ENABLED'] = 'false';
// Expected failures log at ERROR in the services; keep test output readable unless asked.
process.env['POWERTOOLS_LOG_LEVEL'] = process.env['AGENTOS_TEST_LOG_LEVEL'] ?? 'SILENT';
process.env['POWERTOOLS_METRICS_DISABLED'] = 'true';
