import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import { crc32, inflateRawSync } from 'node:zlib';

/**
 * A small reader for Lambda deployment packages (zip files), so extracting one needs no system
 * `unzip`: stored and deflated entries, CRC-checked, within size bounds, and no entry may land
 * outside the destination. Zip64, encryption and symbolic links are refused (a Lambda package
 * built by the CDK has none of them).
 */

/** Bounds on what a package may unpack to. */
export type ZipLimits = { maxEntries: number; maxUnzippedBytes: number };

/** Lambda's own quotas: 50 MB zipped, 250 MB unzipped. */
export const lambdaPackageLimits = {
  maxZipBytes: 50 * 1024 * 1024,
  maxEntries: 10_000,
  maxUnzippedBytes: 250 * 1024 * 1024,
} as const;

/** One entry of a zip file; `read()` inflates and checks it. */
export type ZipEntry = { name: string; directory: boolean; size: number; read(): Buffer };

const endOfCentralDirectorySignature = 0x06054b50;
const centralDirectorySignature = 0x02014b50;
const localHeaderSignature = 0x04034b50;
const stored = 0;
const deflated = 8;
const unixHost = 3;
const symlinkMode = 0o120000;
const fileTypeMask = 0o170000;

function fail(message: string): never {
  throw new Error(`Invalid deployment package: ${message}`);
}

function findEndOfCentralDirectory(zip: Buffer): number {
  // The record is 22 bytes plus a comment of at most 65535 bytes, at the very end.
  const last = zip.length - 22;
  for (let at = last; at >= Math.max(0, last - 0xffff); at -= 1)
    if (zip.readUInt32LE(at) === endOfCentralDirectorySignature) return at;
  return fail('no end of central directory record (not a zip file)');
}

/**
 * The relative path an entry name stands for, or a failure if it would leave the destination
 * (absolute, a drive letter, `..`, backslashes, NUL).
 */
export function safeEntryPath(name: string): string {
  if (name.includes('\0') || name.includes('\\'))
    fail(`entry name ${JSON.stringify(name)} is not a plain path`);
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name))
    fail(`entry ${JSON.stringify(name)} is an absolute path`);
  const segments = name.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.includes('..')) fail(`entry ${JSON.stringify(name)} climbs out of the package`);
  return segments.join('/');
}

/** Lists a zip file's entries, checking the structure and the limits before anything is inflated. */
export function readZipEntries(zip: Buffer, limits: ZipLimits): ZipEntry[] {
  if (zip.length < 22) fail('too short to be a zip file');
  const end = findEndOfCentralDirectory(zip);
  const count = zip.readUInt16LE(end + 10);
  const directorySize = zip.readUInt32LE(end + 12);
  const directoryOffset = zip.readUInt32LE(end + 16);
  if (count === 0xffff || directoryOffset === 0xffffffff) fail('zip64 archives are not supported');
  if (count > limits.maxEntries) fail(`${count} entries, more than the ${limits.maxEntries} allowed`);
  if (directoryOffset + directorySize > end) fail('the central directory overlaps its end record');
  const entries: ZipEntry[] = [];
  const names = new Set<string>();
  let declaredTotal = 0;
  let at = directoryOffset;
  for (let index = 0; index < count; index += 1) {
    if (at + 46 > end || zip.readUInt32LE(at) !== centralDirectorySignature)
      fail(`central directory entry ${index} is damaged`);
    const madeBy = zip.readUInt16LE(at + 4) >> 8;
    const flags = zip.readUInt16LE(at + 8);
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const compressedSize = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const externalAttributes = zip.readUInt32LE(at + 38);
    const localOffset = zip.readUInt32LE(at + 42);
    // Bit 11: the name is UTF-8; otherwise IBM 437, whose ASCII half is all a Lambda package uses.
    const name = zip.toString(flags & 0x800 ? 'utf8' : 'latin1', at + 46, at + 46 + nameLength);
    at += 46 + nameLength + extraLength + commentLength;

    if (flags & 0x1) fail(`entry ${name} is encrypted`);
    if (madeBy === unixHost && ((externalAttributes >>> 16) & fileTypeMask) === symlinkMode)
      fail(`entry ${name} is a symbolic link`);
    const path = safeEntryPath(name);
    const directory = name.endsWith('/');
    if (!directory && path === '') fail(`entry ${JSON.stringify(name)} has no file name`);
    if (names.has(path)) fail(`entry ${name} appears twice`);
    names.add(path);
    if (method !== stored && method !== deflated) fail(`entry ${name} uses compression method ${method}`);
    if (method === stored && compressedSize !== size) fail(`stored entry ${name} has two sizes`);
    declaredTotal += size;
    if (declaredTotal > limits.maxUnzippedBytes)
      fail(`it unpacks to more than the ${limits.maxUnzippedBytes} bytes allowed`);

    entries.push({
      name: path,
      directory,
      size,
      read() {
        if (localOffset + 30 > zip.length || zip.readUInt32LE(localOffset) !== localHeaderSignature)
          fail(`the local header of ${name} is damaged`);
        // Sizes come from the central directory: local headers may defer them to a data descriptor.
        const start =
          localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
        if (start + compressedSize > directoryOffset)
          fail(`the data of ${name} runs into the central directory`);
        const raw = zip.subarray(start, start + compressedSize);
        let data: Buffer;
        try {
          // maxOutputLength stops a lying header from inflating without bound.
          data =
            method === stored
              ? Buffer.from(raw)
              : inflateRawSync(raw, { maxOutputLength: Math.max(1, size) });
        } catch (cause) {
          throw new Error(`Invalid deployment package: entry ${name} does not inflate to ${size} bytes`, {
            cause,
          });
        }
        if (data.length !== size) fail(`entry ${name} inflates to ${data.length} bytes, not ${size}`);
        if (crc32(data) !== crc) fail(`entry ${name} fails its CRC check`);
        return data;
      },
    });
  }
  return entries;
}

/**
 * Extracts a zip file into `destination`, which must be a fresh, empty directory: files are created
 * exclusively, so nothing already there is followed or overwritten.
 */
export async function extractZip(
  zip: Buffer,
  destination: string,
  limits: ZipLimits,
): Promise<{ files: number; bytes: number }> {
  const root = resolve(destination);
  let files = 0;
  let bytes = 0;
  for (const entry of readZipEntries(zip, limits)) {
    const target = resolve(root, entry.name);
    // safeEntryPath already refused escapes; this is the check that does not depend on it.
    if (target !== root && !target.startsWith(root + sep))
      fail(`entry ${entry.name} would land outside ${root}`);
    if (entry.directory) {
      await mkdir(target, { recursive: true });
      continue;
    }
    await mkdir(dirname(target), { recursive: true });
    const data = entry.read();
    await writeFile(target, data, { flag: 'wx', mode: 0o644 });
    files += 1;
    bytes += data.length;
  }
  return { files, bytes };
}
