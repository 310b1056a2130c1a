import type { RedactionKind } from '../schemas/tenant-policy.ts';
import { passesLuhn } from './luhn.ts';

/**
 * Finds sensitive text: contact data (e-mail, phone, payment cards) and secret-like tokens. Every
 * pattern is bounded in length, so a streaming redactor that holds back
 * {@link maxSensitiveSpanLength} characters never emits half of a match.
 */

/** A sensitive stretch of text, `[start, end)`. */
export type SensitiveSpan = { start: number; end: number; kind: RedactionKind };

type Detector = { kind: RedactionKind; pattern: RegExp; accept?: (match: string) => boolean };

/**
 * Upper bound of any match's length: the longest e-mail address the pattern takes (64 + 1 + 4 × 64 +
 * 24); every other pattern stops sooner (secret tokens at 261 characters).
 */
export const maxSensitiveSpanLength = 345;

/**
 * Characters before a span that its detector looks at (`Bearer ` and up to 8 spaces before a bearer
 * token): a streaming redactor must not emit them while the span may still be found.
 */
export const sensitiveContextLength = 16;

function hasMixedCharacterClasses(text: string): boolean {
  return /[a-z]/.test(text) && /[A-Z]/.test(text) && /[0-9]/.test(text);
}

/**
 * Issuer prefixes of the card schemes (Visa; Mastercard 51-55 and 2221-2720; Amex; Discover and
 * UnionPay; JCB; Diners Club; Maestro). Requiring one keeps ids and millisecond timestamps, a tenth
 * of which pass the Luhn check by chance, from being taken for cards.
 */
const cardSchemePrefix =
  /^(?:4|5[1-5]|222[1-9]|22[3-9]\d|2[3-6]\d\d|27[01]\d|2720|3[47]|6011|64[4-9]|65|62|35(?:2[89]|[3-8]\d)|30[0-5]|36|3[89]|50|5[6-8]|6[37])/;

function isPaymentCard(text: string): boolean {
  const digits = text.replace(/\D/g, '');
  return digits.length >= 13 && digits.length <= 19 && cardSchemePrefix.test(digits) && passesLuhn(digits);
}

function isPhoneNumber(text: string): boolean {
  const digits = text.replace(/\D/g, '').length;
  if (digits < 10 || digits > 15) return false;
  // Dotted quads are IPv4 addresses, not phone numbers.
  return !/^\d{1,3}(\.\d{1,3}){3}$/.test(text);
}

/**
 * Detectors in priority order: an earlier detector's span wins over an overlapping later one, so a
 * secret's digits are never reported as a phone number.
 */
const detectors: Detector[] = [
  { kind: 'bearer_token', pattern: /(?<=\bbearer\s{1,8})[A-Za-z0-9\-._~+/]{8,250}={0,2}/gi },
  { kind: 'openai_key', pattern: /(?<![A-Za-z0-9_-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,250}/g },
  {
    kind: 'github_token',
    pattern: /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,250}|github_pat_[A-Za-z0-9_]{22,250})/g,
  },
  { kind: 'slack_token', pattern: /(?<![A-Za-z0-9])xox[abposre]-[A-Za-z0-9-]{10,250}/g },
  { kind: 'aws_access_key', pattern: /(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])/g },
  {
    kind: 'aws_secret_key',
    pattern: /(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g,
    accept: hasMixedCharacterClasses,
  },
  { kind: 'payment_card', pattern: /(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])/g, accept: isPaymentCard },
  {
    kind: 'email',
    pattern:
      /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,4}[A-Za-z]{2,24}(?![A-Za-z0-9-])/g,
  },
  {
    kind: 'phone',
    pattern:
      /(?<![\w+]|\d[ .-])(?:\+\d{8,15}|(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4})(?!\w|[ .-]\d)/g,
    accept: isPhoneNumber,
  },
];

function overlaps(spans: readonly SensitiveSpan[], start: number, end: number): boolean {
  return spans.some((span) => span.start < end && start < span.end);
}

/** The sensitive spans of `text` of the given kinds, sorted and non-overlapping. */
export function findSensitiveSpans(text: string, kinds: ReadonlySet<RedactionKind>): SensitiveSpan[] {
  const spans: SensitiveSpan[] = [];
  for (const detector of detectors) {
    if (!kinds.has(detector.kind)) continue;
    const pattern = new RegExp(detector.pattern.source, detector.pattern.flags);
    let match: RegExpExecArray | null;
    while ((match = pattern.exec(text)) !== null) {
      const start = match.index;
      const end = start + match[0].length;
      if (match[0].length === 0) {
        pattern.lastIndex = start + 1;
        continue;
      }
      if (detector.accept !== undefined && !detector.accept(match[0])) {
        // A rejected candidate may hide a real match starting inside it.
        pattern.lastIndex = start + 1;
        continue;
      }
      if (!overlaps(spans, start, end)) spans.push({ start, end, kind: detector.kind });
    }
  }
  return spans.sort((a, b) => a.start - b.start);
}

/** What replaces a redacted span. */
export function redactionMarker(kind: RedactionKind): string {
  return `[REDACTED:${kind}]`;
}

/** Counts of redactions per kind. */
export type RedactionCounts = Partial<Record<RedactionKind, number>>;

/** Replaces `spans` (sorted, non-overlapping) of `text` with markers. */
export function applyRedactions(
  text: string,
  spans: readonly SensitiveSpan[],
): { text: string; counts: RedactionCounts } {
  const counts: RedactionCounts = {};
  let result = '';
  let position = 0;
  for (const span of spans) {
    result += text.slice(position, span.start) + redactionMarker(span.kind);
    position = span.end;
    counts[span.kind] = (counts[span.kind] ?? 0) + 1;
  }
  return { text: result + text.slice(position), counts };
}

/** `text` with every sensitive span of the given kinds replaced by a marker, and the counts. */
export function redactText(
  text: string,
  kinds: ReadonlySet<RedactionKind>,
): { text: string; counts: RedactionCounts } {
  return applyRedactions(text, findSensitiveSpans(text, kinds));
}

/** Adds `more` into `into`. */
export function addCounts(into: RedactionCounts, more: RedactionCounts): void {
  for (const [kind, count] of Object.entries(more) as [RedactionKind, number][]) {
    into[kind] = (into[kind] ?? 0) + count;
  }
}
