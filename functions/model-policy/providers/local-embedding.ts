/**
 * The local provider's embedding model (`local/embed-small`): deterministic vectors from the text
 * alone, with no model and no network, for local mode and tests. Each word and each of its character
 * trigrams is hashed into one of the vector's positions with a hashed sign (the "hashing trick"),
 * and the vector is scaled to unit length; so texts sharing words or word pieces have a higher
 * cosine than unrelated ones, and the same text always gives the same vector.
 */

/** The vector length of `local/embed-small`. */
export const localEmbeddingDimensions = 256;

/** What a trigram weighs against a whole word: spelling close, meaning not necessarily. */
const trigramWeight = 0.5;

/** FNV-1a, 32-bit: a fast, stable, well-spread hash (the same on every node and version). */
function fnv1a(text: string, seed: number): number {
  let hash = (0x811c9dc5 ^ seed) >>> 0;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

function addFeature(vector: Float64Array, feature: string, weight: number): void {
  const index = fnv1a(feature, 0) % vector.length;
  const sign = (fnv1a(feature, 0x9e3779b9) & 1) === 0 ? 1 : -1;
  vector[index] = vector[index]! + sign * weight;
}

/** The words of a text: runs of letters and digits, case-folded. */
function wordsOf(text: string): string[] {
  return (
    text
      .normalize('NFKC')
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? []
  );
}

/**
 * The unit vector of a text. A text without letters or digits is hashed whole, so it still has a
 * vector of its own.
 */
export function localEmbedding(text: string, dimensions: number = localEmbeddingDimensions): number[] {
  const vector = new Float64Array(dimensions);
  const words = wordsOf(text);
  for (const word of words) {
    addFeature(vector, `w:${word}`, 1);
    const padded = `<${word}>`;
    for (let start = 0; start + 3 <= padded.length; start += 1) {
      addFeature(vector, `t:${padded.slice(start, start + 3)}`, trigramWeight);
    }
  }
  let norm = Math.hypot(...vector);
  if (words.length === 0 || norm === 0) {
    vector.fill(0);
    addFeature(vector, `x:${text}`, 1);
    norm = 1;
  }
  return Array.from(vector, (value) => value / norm);
}
