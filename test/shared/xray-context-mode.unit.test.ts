import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const telemetry = fileURLToPath(
  new URL('../../functions/shared/observability/telemetry.ts', import.meta.url),
);

/** Whether a fresh process that loads the telemetry module has the X-Ray SDK's async hook installed. */
function hookInstalled(env: Record<string, string>): boolean {
  const inherited = { ...process.env };
  // The test setup turns tracing off for this process: the child starts from neither setting.
  delete inherited['POWERTOOLS_TRACE_ENABLED'];
  delete inherited['AWS_XRAY_MANUAL_MODE'];
  const out = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `await import(${JSON.stringify(telemetry)}); ` +
        // cls-hooked, the SDK's automatic mode, registers its namespace (and its hook) here.
        `console.log(JSON.stringify(Object.keys(process.namespaces ?? {}).length > 0));`,
    ],
    { env: { ...inherited, ...env }, encoding: 'utf8' },
  );
  return JSON.parse(out.trim()) as boolean;
}

describe('the X-Ray context mode', () => {
  it('installs no async hook when tracing is off', () => {
    expect(hookInstalled({ POWERTOOLS_TRACE_ENABLED: 'false' })).toBe(false);
  });

  it('keeps the automatic mode, and its hook, when tracing is on', () => {
    expect(hookInstalled({})).toBe(true);
  });
});
