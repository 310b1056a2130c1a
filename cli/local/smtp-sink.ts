import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { alertIdHeader } from '../../functions/shared/observability/alert-notifier.ts';

/** The largest message the sink takes: alerts are a few hundred bytes. */
const maxMessageBytes = 1_000_000;

/** A running SMTP sink. */
export type SmtpSink = { port: number; close(): Promise<void> };

/**
 * The local node's mailbox for alert e-mail (HLD §9.3: SMTP alerting out of the box): a plain SMTP
 * server on localhost that takes every message and stores it as `<time>-<id>.eml` in `dir`, so the
 * operator reads alerts with any mail client or `cat`. No authentication and no TLS: it listens on
 * the loopback interface only.
 */
export async function startSmtpSink(options: {
  dir: string;
  port: number;
  host?: string;
}): Promise<SmtpSink> {
  await mkdir(options.dir, { recursive: true });
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    size: maxMessageBytes,
    banner: 'AgentOS local alert sink',
    logger: false,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if ((stream as unknown as { sizeExceeded?: boolean }).sizeExceeded === true) {
          callback(Object.assign(new Error('message too large'), { responseCode: 552 }));
          return;
        }
        const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID()}.eml`;
        const temporary = join(options.dir, `.${name}.tmp`);
        // Written aside, then renamed: a reader never counts half a message.
        writeFile(temporary, Buffer.concat(chunks))
          .then(() => rename(temporary, join(options.dir, name)))
          .then(
            () => callback(),
            (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
          );
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // A client's broken connection is its own problem; it must not stop the sink.
  server.on('error', () => undefined);
  const port = (server.server.address() as AddressInfo).port;
  return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** One stored alert e-mail: its file, subject and alarm id (from its headers). */
export type StoredAlert = { file: string; subject: string; alarmId: string | undefined };

function header(text: string, name: string): string | undefined {
  const head = text.split(/\r?\n\r?\n/, 1)[0] ?? '';
  // Folded header lines continue with whitespace.
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  const line = unfolded
    .split(/\r?\n/)
    .find((entry) => entry.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim();
}

/** The alert e-mails stored in `dir`, oldest first; none when it does not exist. */
export async function readStoredAlerts(dir: string): Promise<StoredAlert[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => name.endsWith('.eml')).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return Promise.all(
    names.map(async (name) => {
      const file = join(dir, name);
      const text = await readFile(file, 'utf8');
      return { file, subject: header(text, 'Subject') ?? '', alarmId: header(text, alertIdHeader) };
    }),
  );
}
