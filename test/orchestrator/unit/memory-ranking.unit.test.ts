import { describe, expect, it } from 'vitest';
import {
  Bm25Ranking,
  bm25B,
  bm25K1,
  entryTokens,
  idf,
  maxQueryTerms,
  maxTokensPerEntry,
  queryTerms,
  termScore,
  tokenize,
} from '../../../functions/orchestrator/memory/ranking.ts';

/** Ranks `documents` (key → text) for `query`, returning keys with scores, best first. */
function rank(documents: Record<string, string>, query: string, limit = 10) {
  const ranking = new Bm25Ranking<string>(query);
  for (const [key, text] of Object.entries(documents)) ranking.add(key, entryTokens(key, text), key);
  return ranking.ranked(limit);
}

describe('tokenize', () => {
  it('returns lower-cased runs of Unicode letters and digits, split on everything else', () => {
    expect(tokenize('Hello, WORLD! user_42 — café-Straße')).toEqual([
      'hello',
      'world',
      'user',
      '42',
      'café',
      'straße',
    ]);
  });

  it('returns words of any script, combining marks kept with their letters', () => {
    expect(tokenize('Привет мир 東京 नमस्ते')).toEqual(['привет', 'мир', '東京', 'नमस्ते']);
  });

  it('returns the same tokens for compatibility forms of a word', () => {
    expect(tokenize('ﬁle Ｆｕｌｌ')).toEqual(['file', 'full']);
  });

  it('returns at most the bounded number of tokens', () => {
    expect(tokenize('a '.repeat(maxTokensPerEntry + 100))).toHaveLength(maxTokensPerEntry);
    expect(tokenize('one two three', 2)).toEqual(['one', 'two']);
  });

  it('returns no tokens for punctuation only', () => {
    expect(tokenize('?! -- ...')).toEqual([]);
  });
});

describe('queryTerms', () => {
  it('returns each term once, at most the bounded number', () => {
    expect(queryTerms('Cat cat DOG cat')).toEqual(['cat', 'dog']);
    const many = Array.from({ length: maxQueryTerms + 5 }, (_, i) => `t${i}`).join(' ');
    expect(queryTerms(many)).toHaveLength(maxQueryTerms);
  });
});

describe('entryTokens', () => {
  it('returns the key tokens then the value tokens, within the entry bound', () => {
    expect(entryTokens('user-prefs', 'Likes tea')).toEqual(['user', 'prefs', 'likes', 'tea']);
    expect(entryTokens('k', 'x '.repeat(maxTokensPerEntry))).toHaveLength(maxTokensPerEntry);
  });
});

describe('BM25', () => {
  it('uses k1 = 1.2 and b = 0.75', () => {
    expect([bm25K1, bm25B]).toEqual([1.2, 0.75]);
    // One occurrence in a document of average length scores exactly its idf.
    expect(termScore(2, 1, 10, 10)).toBeCloseTo(2, 12);
    expect(idf(10, 1)).toBeCloseTo(Math.log(1 + 9.5 / 1.5), 12);
  });

  it('ranks a document matching a rarer term above one matching a common term', () => {
    const documents = {
      a: 'the weather is sunny',
      b: 'the weather is rainy',
      c: 'the weather is cold',
      d: 'a rare zebra sighting',
    };
    const ranked = rank(documents, 'weather zebra');
    expect(ranked.map((hit) => hit.item)).toEqual(['d', 'a', 'b', 'c']);
    expect(ranked[0]!.score).toBeGreaterThan(ranked[1]!.score);
  });

  it('saturates term frequency: each further occurrence adds less, and never beyond (k1 + 1) × idf', () => {
    const scores = [1, 2, 4, 8, 64].map((frequency) => termScore(1, frequency, 10, 10));
    for (let i = 1; i < scores.length; i += 1) expect(scores[i]!).toBeGreaterThan(scores[i - 1]!);
    expect(scores[1]! - scores[0]!).toBeGreaterThan(scores[2]! - scores[1]!);
    expect(scores.at(-1)!).toBeLessThan(bm25K1 + 1);
    const ranked = rank({ once: 'apple pear', many: 'apple apple apple apple pear' }, 'apple');
    expect(ranked.map((hit) => hit.item)).toEqual(['many', 'once']);
    expect(ranked[0]!.score / ranked[1]!.score).toBeLessThan(2);
  });

  it('ranks a short document above a long one with the same matches (length normalisation)', () => {
    const filler = ' lorem ipsum dolor sit amet'.repeat(20);
    const ranked = rank({ long: `invoice paid${filler}`, short: 'invoice paid' }, 'invoice');
    expect(ranked.map((hit) => hit.item)).toEqual(['short', 'long']);
    expect(termScore(1, 1, 5, 10)).toBeGreaterThan(termScore(1, 1, 20, 10));
  });

  it('leaves out documents matching no term of the query', () => {
    const ranked = rank({ a: 'blue sky', b: 'green grass', c: 'blue sea' }, 'blue ocean');
    expect(ranked.map((hit) => hit.item)).toEqual(['a', 'c']);
    expect(rank({ a: 'blue sky' }, 'red')).toEqual([]);
    expect(rank({ a: 'blue sky' }, '?!')).toEqual([]);
  });

  it('breaks ties by key and keeps at most the limit', () => {
    const ranked = rank({ c: 'same words', a: 'same words', b: 'same words' }, 'same', 2);
    expect(ranked.map((hit) => hit.item)).toEqual(['a', 'b']);
    expect(ranked[0]!.score).toBe(ranked[1]!.score);
  });

  it('matches the query against the key as well as the value', () => {
    const ranked = rank({ 'favourite-colour': 'green', other: 'nothing here' }, 'colour');
    expect(ranked.map((hit) => hit.item)).toEqual(['favourite-colour']);
  });

  it('returns positive scores even for a term in every document', () => {
    const ranked = rank({ a: 'x y', b: 'x z' }, 'x');
    expect(ranked.every((hit) => hit.score > 0)).toBe(true);
  });
});
