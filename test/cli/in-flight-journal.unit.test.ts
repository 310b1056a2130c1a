import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InFlightJournal } from '../../cli/local/in-flight-journal.ts';

async function journalPath(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), 'agentos-journal-')), 'in-flight.json');
}

describe('InFlightJournal', () => {
  it('returns what a previous process left in flight, and nothing once it is settled', async () => {
    const path = await journalPath();
    const crashed = new InFlightJournal(path);
    crashed.add(['a', 'b']);
    crashed.add(['c']);
    crashed.remove(['b']);
    // A new process reads what the dead one wrote.
    expect(new InFlightJournal(path).leftOver()).toEqual(['a', 'c']);
    crashed.remove(['a', 'c']);
    expect(new InFlightJournal(path).leftOver()).toEqual([]);
  });

  it('returns nothing when there is no journal yet', async () => {
    expect(new InFlightJournal(await journalPath()).leftOver()).toEqual([]);
  });

  it('throws when the journal is not one it wrote', async () => {
    const path = await journalPath();
    await writeFile(path, '{"receipt_handles": "all"}');
    expect(() => new InFlightJournal(path).leftOver()).toThrow();
  });
});
