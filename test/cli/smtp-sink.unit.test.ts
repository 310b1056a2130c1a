import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mailboxFull, mailboxUsage, readStoredAlerts, startSmtpSink } from '../../cli/local/smtp-sink.ts';
import type { MailboxCaps, SmtpSink } from '../../cli/local/smtp-sink.ts';

let dir: string;
let sink: SmtpSink | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agentos-sink-'));
});

afterEach(async () => {
  await sink?.close();
  sink = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function startSink(caps?: MailboxCaps): Promise<SmtpSink> {
  sink = await startSmtpSink({ dir, port: 0, ...(caps === undefined ? {} : { caps }) });
  return sink;
}

/** Sends one e-mail over SMTP as the notifier does; resolves with the server's answer code. */
async function send(port: number, subject: string, text = 'alert body'): Promise<number> {
  const transport = createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  try {
    await transport.sendMail({ from: 'alerts@agentos.local', to: 'ops@agentos.local', subject, text });
    return 250;
  } catch (error) {
    return (error as { responseCode?: number }).responseCode ?? -1;
  } finally {
    transport.close();
  }
}

describe('the local SMTP sink', () => {
  it('returns each accepted message as a stored .eml file with its subject', async () => {
    const { port } = await startSink();
    expect(await send(port, 'first')).toBe(250);
    expect(await send(port, 'second')).toBe(250);
    expect((await readStoredAlerts(dir)).map((mail) => mail.subject)).toEqual(['first', 'second']);
  });

  it('throws 552 for a message over the size limit, stores nothing of it and keeps taking mail', async () => {
    const { port } = await startSink();
    expect(await send(port, 'huge', 'x'.repeat(2_000_000))).toBe(552);
    expect(await mailboxUsage(dir)).toEqual({ files: 0, bytes: 0 });
    expect(await send(port, 'after')).toBe(250);
    expect((await readStoredAlerts(dir)).map((mail) => mail.subject)).toEqual(['after']);
  });

  it('throws 452 once the file cap is reached, and takes mail again once stored files are removed', async () => {
    const { port } = await startSink({ maxFiles: 2, maxBytes: 10_000_000 });
    expect(await send(port, 'one')).toBe(250);
    expect(await send(port, 'two')).toBe(250);
    expect(await send(port, 'three')).toBe(452);
    const stored = await readStoredAlerts(dir);
    expect(stored.map((mail) => mail.subject)).toEqual(['one', 'two']);
    expect(mailboxFull(await mailboxUsage(dir), { maxFiles: 2, maxBytes: 10_000_000 })).toBe(true);

    await rm(stored[0]!.file);
    expect(await send(port, 'four')).toBe(250);
    expect((await readStoredAlerts(dir)).map((mail) => mail.subject)).toEqual(['two', 'four']);
  });

  it('throws 452 once the byte cap would be passed', async () => {
    const { port } = await startSink({ maxFiles: 1_000, maxBytes: 3_000 });
    expect(await send(port, 'small', 'a'.repeat(1_000))).toBe(250);
    expect(await send(port, 'too much', 'b'.repeat(2_500))).toBe(452);
    expect((await readStoredAlerts(dir)).map((mail) => mail.subject)).toEqual(['small']);
  });

  it('returns the caps counted from what a previous sink left in its directory', async () => {
    const first = await startSink({ maxFiles: 1, maxBytes: 10_000_000 });
    expect(await send(first.port, 'kept')).toBe(250);
    await first.close();
    const { port } = await startSink({ maxFiles: 1, maxBytes: 10_000_000 });
    expect(await send(port, 'refused')).toBe(452);
  });
});
