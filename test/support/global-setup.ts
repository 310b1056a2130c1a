import type { TestProject } from 'vitest/node';
import { startMoto } from '../../cli/local/emulator.ts';
import type { EmulatorHandle } from '../../cli/local/emulator.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    awsEndpoint: string;
    /** True when the run uses an emulator someone else started (no moto was installed or started). */
    externalEmulator: boolean;
  }
}

let emulator: EmulatorHandle | undefined;

/**
 * One AWS emulator for the whole run: moto server on a free port, or, when `AGENTOS_AWS_ENDPOINT`
 * (or `AWS_ENDPOINT_URL`) names a running LocalStack-compatible endpoint, that one, with nothing started.
 */
export async function setup(project: TestProject): Promise<void> {
  const external = process.env['AGENTOS_AWS_ENDPOINT'] ?? process.env['AWS_ENDPOINT_URL'];
  if (external !== undefined && external !== '') {
    project.provide('awsEndpoint', external);
    project.provide('externalEmulator', true);
    return;
  }
  emulator = await startMoto();
  project.provide('awsEndpoint', emulator.endpoint);
  project.provide('externalEmulator', false);
}

export async function teardown(): Promise<void> {
  await emulator?.stop();
}
