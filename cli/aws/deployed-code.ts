import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { DeployedClientConfig } from './deployed-aws.ts';
import { extractZip, lambdaPackageLimits } from './deployed-zip.ts';

/** A function's deployment package, unpacked on this machine. */
export type ExtractedCode = {
  /** The directory the package was unpacked into (named by the package's hash). */
  directory: string;
  /** Base64 SHA-256 of the package, equal to what Lambda reports for the function. */
  codeSha256: string;
  /** What this call downloaded and unpacked; absent when an earlier run had unpacked this very package. */
  downloaded?: { zipBytes: number; unzippedBytes: number; files: number };
};

/** The package's directory name: its hash in hex (base64 holds `/`). */
function cacheKey(codeSha256: string): string {
  const digest = Buffer.from(codeSha256, 'base64');
  if (digest.length !== 32) throw new Error(`${codeSha256} is not a base64 SHA-256`);
  return digest.toString('hex');
}

async function download(
  config: DeployedClientConfig,
  location: { bucket: string; key: string },
  maxBytes: number,
): Promise<Buffer> {
  // An emulator on localhost:PORT has no per-bucket host names.
  const s3 = new S3Client({ ...config, forcePathStyle: config.endpoint !== undefined });
  const where = `s3://${location.bucket}/${location.key}`;
  try {
    const answer = await s3.send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key }));
    if (answer.ContentLength !== undefined && answer.ContentLength > maxBytes)
      throw new Error(`${where} is ${answer.ContentLength} bytes, more than the ${maxBytes} allowed`);
    if (answer.Body === undefined) throw new Error(`${where} has no body`);
    const chunks: Buffer[] = [];
    let size = 0;
    // Counted as it arrives, so a body longer than its declared length is still cut off.
    for await (const chunk of answer.Body as AsyncIterable<Uint8Array>) {
      size += chunk.length;
      if (size > maxBytes) throw new Error(`${where} is more than the ${maxBytes} bytes allowed`);
      chunks.push(Buffer.from(chunk));
    }
    return Buffer.concat(chunks);
  } finally {
    s3.destroy();
  }
}

/**
 * Downloads a function's deployment package from where CloudFormation deployed it, checks it is the
 * package Lambda holds (its SHA-256 against the function's `CodeSha256`), and unpacks it under
 * `cacheDir/<sha256>`. A package already unpacked there is reused without downloading: the
 * directory is only ever created whole (unpacked beside it, then renamed), so its name vouches for it.
 */
export async function fetchFunctionCode(options: {
  config: DeployedClientConfig;
  location: { bucket: string; key: string };
  codeSha256: string;
  cacheDir: string;
}): Promise<ExtractedCode> {
  const directory = join(options.cacheDir, cacheKey(options.codeSha256));
  if (existsSync(directory)) return { directory, codeSha256: options.codeSha256 };
  const zip = await download(options.config, options.location, lambdaPackageLimits.maxZipBytes);
  const actual = createHash('sha256').update(zip).digest('base64');
  if (actual !== options.codeSha256)
    throw new Error(
      `s3://${options.location.bucket}/${options.location.key} has SHA-256 ${actual}, but the function runs ` +
        `${options.codeSha256}: the asset is not the code the function was deployed with`,
    );
  await mkdir(options.cacheDir, { recursive: true });
  const staging = `${directory}.partial-${randomUUID()}`;
  try {
    const { files, bytes } = await extractZip(zip, staging, lambdaPackageLimits);
    try {
      await rename(staging, directory);
    } catch (error) {
      // Another process unpacked the same package meanwhile: theirs is as good as ours.
      if (!existsSync(directory)) throw error;
      await rm(staging, { recursive: true, force: true });
    }
    return {
      directory,
      codeSha256: actual,
      downloaded: { zipBytes: zip.length, unzippedBytes: bytes, files },
    };
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}
