import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startMoto } from '../../cli/local/emulator.ts';

describe('the emulator launcher', () => {
  it('refuses to start when the installed moto is not the pinned version', async () => {
    // A `moto` package earlier on the path stands in for another installed version.
    const dir = mkdtempSync(join(tmpdir(), 'other-moto-'));
    mkdirSync(join(dir, 'moto'));
    writeFileSync(join(dir, 'moto', '__init__.py'), '__version__ = "5.0.0"\n');
    const previous = process.env['PYTHONPATH'];
    process.env['PYTHONPATH'] = dir;
    try {
      await expect(startMoto()).rejects.toThrow(
        /refused to start: the installed moto or Werkzeug is not the version pinned/,
      );
    } finally {
      if (previous === undefined) delete process.env['PYTHONPATH'];
      else process.env['PYTHONPATH'] = previous;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start when the installed Werkzeug is not the pinned version', async () => {
    // Package metadata earlier on the path stands in for another installed Werkzeug; moto still
    // imports the real one, so only the launcher's version check can refuse.
    const dir = mkdtempSync(join(tmpdir(), 'other-werkzeug-'));
    mkdirSync(join(dir, 'werkzeug-3.0.0.dist-info'));
    writeFileSync(
      join(dir, 'werkzeug-3.0.0.dist-info', 'METADATA'),
      'Metadata-Version: 2.1\nName: Werkzeug\nVersion: 3.0.0\n',
    );
    const previous = process.env['PYTHONPATH'];
    process.env['PYTHONPATH'] = dir;
    try {
      await expect(startMoto()).rejects.toThrow(
        /refused to start: the installed moto or Werkzeug is not the version pinned/,
      );
    } finally {
      if (previous === undefined) delete process.env['PYTHONPATH'];
      else process.env['PYTHONPATH'] = previous;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
