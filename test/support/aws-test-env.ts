import { inject } from 'vitest';

// Emulators accept any credentials; set them so the SDK never looks for real ones.
process.env['AWS_ACCESS_KEY_ID'] ??= 'test';
process.env['AWS_SECRET_ACCESS_KEY'] ??= 'test';
process.env['AWS_REGION'] ??= 'us-east-1';
process.env['AGENTOS_AWS_ENDPOINT'] = inject('awsEndpoint');
process.env['POWERTOOLS_TRACE_ENABLED'] = 'false';
process.env['POWERTOOLS_LOG_LEVEL'] ??= 'WARN';
process.env['POWERTOOLS_METRICS_DISABLED'] = 'true';
