import { randomBytes } from 'node:crypto';

const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';

/** A new run id: `run_` + 26 Crockford base32 characters, time-ordered like a ULID. */
export function newRunId(now: number = Date.now()): string {
  let time = '';
  let remaining = now;
  for (let i = 0; i < 10; i += 1) {
    time = alphabet[remaining % 32] + time;
    remaining = Math.floor(remaining / 32);
  }
  const random = [...randomBytes(16)].map((byte) => alphabet[byte % 32]).join('');
  return `run_${time}${random}`;
}
