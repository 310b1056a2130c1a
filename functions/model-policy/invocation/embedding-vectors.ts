/**
 * Vectors as OpenAI's `encoding_format: base64` carries them: little-endian float32 bytes, base64.
 * The gateway keeps an embeddings call's vectors this way for replays (HLD §5.3), at 4 bytes a number.
 */

/** A vector as base64 of its little-endian float32 bytes. */
export function packVector(vector: readonly number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((value, index) => bytes.writeFloatLE(value, index * 4));
  return bytes.toString('base64');
}

/** The numbers of a vector packed by {@link packVector}. */
export function unpackVector(packed: string): number[] {
  const bytes = Buffer.from(packed, 'base64');
  const vector: number[] = [];
  for (let offset = 0; offset + 4 <= bytes.length; offset += 4) vector.push(bytes.readFloatLE(offset));
  return vector;
}
