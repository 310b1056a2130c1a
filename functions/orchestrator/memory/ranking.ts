/**
 * Lexical ranking of memory entries (HLD §3.1 MemoryPort search): a tokenizer and Okapi BM25 over an
 * entry's key and value. Pure: no I/O, no clock. Documents are fed one at a time, so a namespace is
 * ranked in one pass while only the statistics of the query's terms are kept per entry.
 */

/** BM25 term-frequency saturation. */
export const bm25K1 = 1.2;
/** BM25 length normalisation (0: none, 1: full). */
export const bm25B = 0.75;

/**
 * Tokens of one entry (key and value together) that count: later tokens are neither matched nor
 * counted in the entry's length, so one huge value costs a bounded amount of work.
 */
export const maxTokensPerEntry = 8192;

/** Distinct terms of a query that count; later ones are ignored. */
export const maxQueryTerms = 32;

// Letters and digits of any script; combining marks stay in their word (e.g. Devanagari vowel signs).
const tokenPattern = /[\p{L}\p{N}][\p{L}\p{N}\p{M}]*/gu;

/**
 * The tokens of `text`, at most `maxTokens`: NFKC-normalised, lower-cased runs of Unicode letters and
 * digits; everything else separates tokens.
 */
export function tokenize(text: string, maxTokens: number = maxTokensPerEntry): string[] {
  const tokens: string[] = [];
  if (maxTokens <= 0) return tokens;
  for (const match of text.normalize('NFKC').toLowerCase().matchAll(tokenPattern)) {
    tokens.push(match[0]);
    if (tokens.length >= maxTokens) break;
  }
  return tokens;
}

/** The distinct terms of a query, in first-seen order, at most `maxQueryTerms`. */
export function queryTerms(query: string): string[] {
  const terms: string[] = [];
  for (const token of tokenize(query, maxTokensPerEntry)) {
    if (!terms.includes(token)) terms.push(token);
    if (terms.length >= maxQueryTerms) break;
  }
  return terms;
}

/** The tokens of an entry as ranked: its key's, then its value's, within `maxTokensPerEntry`. */
export function entryTokens(key: string, value: string): string[] {
  const keyTokens = tokenize(key);
  return keyTokens.concat(tokenize(value, maxTokensPerEntry - keyTokens.length));
}

/** Inverse document frequency (the non-negative BM25+ form Lucene uses). */
export function idf(documents: number, withTerm: number): number {
  return Math.log(1 + (documents - withTerm + 0.5) / (withTerm + 0.5));
}

/** One term's BM25 contribution for a document of `length` tokens where the term occurs `frequency` times. */
export function termScore(termIdf: number, frequency: number, length: number, averageLength: number): number {
  if (frequency === 0) return 0;
  const norm = bm25K1 * (1 - bm25B + (bm25B * length) / (averageLength > 0 ? averageLength : 1));
  return (termIdf * (frequency * (bm25K1 + 1))) / (frequency + norm);
}

/** A ranked item and its score (higher is better). */
export type Ranked<T> = { item: T; score: number };

/**
 * BM25 over a stream of documents for one query. `add` every document of the collection (matching or
 * not: all count for the collection's size and average length), then `ranked` the matching ones.
 */
export class Bm25Ranking<T> {
  readonly #terms: string[];
  readonly #documentFrequency: number[];
  readonly #matches: { item: T; tieKey: string; length: number; frequencies: number[] }[] = [];
  #documents = 0;
  #totalLength = 0;

  constructor(query: string) {
    this.#terms = queryTerms(query);
    this.#documentFrequency = this.#terms.map(() => 0);
  }

  /** False when the query has no term, so no document can match and none need be read. */
  get hasTerms(): boolean {
    return this.#terms.length > 0;
  }

  /** Adds one document: its tokens, the item to return when it matches, and the key that breaks ties. */
  add(item: T, tokens: readonly string[], tieKey: string): void {
    this.#documents += 1;
    this.#totalLength += tokens.length;
    if (this.#terms.length === 0) return;
    const frequencies = this.#terms.map(() => 0);
    for (const token of tokens) {
      const index = this.#terms.indexOf(token);
      if (index >= 0) frequencies[index]! += 1;
    }
    if (!frequencies.some((frequency) => frequency > 0)) return;
    frequencies.forEach((frequency, index) => {
      if (frequency > 0) this.#documentFrequency[index]! += 1;
    });
    this.#matches.push({ item, tieKey, length: tokens.length, frequencies });
  }

  /** The matching documents, best first, ties by ascending tie key; at most `limit`. */
  ranked(limit: number): Ranked<T>[] {
    const averageLength = this.#documents === 0 ? 0 : this.#totalLength / this.#documents;
    const idfs = this.#documentFrequency.map((withTerm) => idf(this.#documents, withTerm));
    return this.#matches
      .map((match) => ({
        item: match.item,
        tieKey: match.tieKey,
        score: match.frequencies.reduce(
          (sum, frequency, index) => sum + termScore(idfs[index]!, frequency, match.length, averageLength),
          0,
        ),
      }))
      .sort((a, b) => b.score - a.score || (a.tieKey < b.tieKey ? -1 : a.tieKey > b.tieKey ? 1 : 0))
      .slice(0, Math.max(0, limit))
      .map(({ item, score }) => ({ item, score }));
  }
}
