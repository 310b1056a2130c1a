import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { alertIdHeader } from '../../functions/shared/observability/alert-notifier.ts';

/** The largest message the sink takes: alerts are a few hundred bytes. */
const maxMessageBytes = 1_000_000;

/**
 * What the sink's directory may hold before new messages are refused with 452 (mailbox full): a
 * flood of alerts or a misdirected sender must not fill the operator's disk. Removing stored
 * messages makes room again.
 */
export const defaultMailboxCaps = { maxFiles: 10_000, maxBytes: 100 * 1024 * 1024 };

/** The caps of a sink's directory. */
export type MailboxCaps = { maxFiles: number; maxBytes: number };

/** What a sink's directory holds: its stored messages and their bytes. */
export type MailboxUsage = { files: number; bytes: number };

/** A running SMTP sink. */
export type SmtpSink = { port: number; close(): Promise<void> };

/** The stored messages of `dir` and their bytes; none when it does not exist. */
export async function mailboxUsage(dir: string): Promise<MailboxUsage> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => name.endsWith('.eml'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { files: 0, bytes: 0 };
    throw error;
  }
  let bytes = 0;
  for (const name of names) {
    // A file the operator removed meanwhile holds nothing.
    bytes += await stat(join(dir, name)).then(
      (entry) => entry.size,
      () => 0,
    );
  }
  return { files: names.length, bytes };
}

/** Whether `usage` leaves no room for one more message under `caps`. */
export function mailboxFull(usage: MailboxUsage, caps: MailboxCaps = defaultMailboxCaps): boolean {
  return usage.files >= caps.maxFiles || usage.bytes >= caps.maxBytes;
}

function refusal(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

/**
 * The local node's mailbox for alert e-mail (HLD §9.3: SMTP alerting out of the box): a plain SMTP
 * server on localhost that takes every message and stores it as `<time>-<id>.eml` in `dir`, so the
 * operator reads alerts with any mail client or `cat`. No authentication and no TLS: it listens on
 * the loopback interface only. Bounded: a message over 1 MB is refused with 552 as it arrives (its
 * bytes are counted, not kept, past the limit), and once the directory holds `caps` worth of
 * messages new ones are refused with 452 until the operator removes some.
 */
export async function startSmtpSink(options: {
  dir: string;
  port: number;
  host?: string;
  caps?: MailboxCaps;
}): Promise<SmtpSink> {
  await mkdir(options.dir, { recursive: true });
  const caps = options.caps ?? defaultMailboxCaps;
  // Counted once, then kept up to date; counted again when it looks full, since the operator
  // empties the mailbox by removing files.
  let usage = await mailboxUsage(options.dir);
  const full = async () => {
    if (!mailboxFull(usage, caps)) return false;
    usage = await mailboxUsage(options.dir);
    return mailboxFull(usage, caps);
  };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    // Announced in EHLO: a client declaring a larger SIZE is refused at MAIL FROM.
    size: maxMessageBytes,
    banner: 'AgentOS local alert sink',
    logger: false,
    // Each connection holds at most one message's bytes: a bounded number of them, bounded memory.
    maxClients: 16,
    onMailFrom(_address, _session, callback) {
      full().then(
        (isFull) => callback(isFull ? refusal(452, 'mailbox full: remove stored alerts') : undefined),
        (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
      );
    },
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      let bytes = 0;
      stream.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        // Past the limit the rest is read and dropped: the client gets its 552 once DATA ends.
        if (bytes <= maxMessageBytes) chunks.push(chunk);
        else chunks.length = 0;
      });
      stream.on('end', () => {
        if (stream.sizeExceeded || bytes > maxMessageBytes) {
          callback(refusal(552, 'message too large'));
          return;
        }
        const message = Buffer.concat(chunks);
        const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID()}.eml`;
        const temporary = join(options.dir, `.${name}.tmp`);
        full()
          .then(async (isFull) => {
            // Checked again here: messages of other connections may have filled it since MAIL FROM.
            if (isFull || usage.bytes + message.length > caps.maxBytes)
              throw refusal(452, 'mailbox full: remove stored alerts');
            // Written aside, then renamed: a reader never counts half a message.
            await writeFile(temporary, message);
            await rename(temporary, join(options.dir, name));
            usage = { files: usage.files + 1, bytes: usage.bytes + message.length };
          })
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
