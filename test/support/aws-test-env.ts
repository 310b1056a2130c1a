import { inject } from 'vitest';
import './test-env.ts';

// The integration tier's one emulator, started by global-setup.ts.
process.env['AGENTOS_AWS_ENDPOINT'] = inject('awsEndpoint');
