import { OutboundRequestError } from '../../../shared/net/safe-fetch.ts';
import type { SafeFetch } from '../../../shared/net/safe-fetch.ts';
import { toolErrorResult } from '../../ports/tool-port.ts';
import type { ToolInvocation, ToolResult } from '../../ports/tool-port.ts';
import type { HttpTool } from '../../schemas/tool.ts';
import { ToolSecretError } from './tool-secrets.ts';
import type { ToolSecretReader } from './tool-secrets.ts';

/** What calling a tenant's HTTP tool needs. */
export type HttpToolDeps = { fetch: SafeFetch; secrets: ToolSecretReader };

/** Headers the tool's fixed headers may not set: the call sets them. */
const callHeaders = new Set([
  'host',
  'content-length',
  'content-type',
  'idempotency-key',
  'transfer-encoding',
]);

const placeholder = /\{([A-Za-z0-9_-]+)\}/g;

function asText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * The request an HTTP tool's arguments make: `{name}` placeholders of the URL filled (percent-encoded)
 * from the arguments of that name, the other arguments in the query string (GET, DELETE) or as the
 * JSON body (POST, PUT, PATCH). Undefined with a reason when a placeholder has no argument.
 */
export function buildHttpToolRequest(
  tool: HttpTool,
  args: Record<string, unknown>,
): { url: string; body?: string } | { problem: string } {
  const used = new Set<string>();
  let missing: string | undefined;
  let dotted: string | undefined;
  const filled = tool.http.url.replace(placeholder, (_match, name: string) => {
    const value = args[name];
    if (value === undefined || value === null) {
      missing ??= name;
      return '';
    }
    used.add(name);
    const encoded = encodeURIComponent(asText(value));
    // `.` and `..` (in any percent-encoding, which URL parsing decodes) would move the request up
    // the tool's own path, to an endpoint the tool was not declared for.
    if (/^(?:\.|%2e){1,2}$/i.test(encoded)) dotted ??= name;
    return encoded;
  });
  if (missing !== undefined)
    return { problem: `Invalid arguments: "${missing}" is required by the tool's URL` };
  if (dotted !== undefined)
    return { problem: `Invalid arguments: "${dotted}" may not be "." or ".." in the tool's URL` };
  const rest = Object.fromEntries(Object.entries(args).filter(([name]) => !used.has(name)));
  let url: URL;
  try {
    url = new URL(filled);
  } catch {
    return { problem: 'Invalid arguments: they make the tool URL invalid' };
  }
  if (tool.http.method === 'GET' || tool.http.method === 'DELETE') {
    for (const [name, value] of Object.entries(rest)) {
      if (value === undefined) continue;
      for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(name, asText(item));
    }
    return { url: url.toString() };
  }
  return { url: url.toString(), body: JSON.stringify(rest) };
}

/**
 * Calls a tenant's HTTP tool with arguments already checked against its `parameters` (HLD §10.1):
 * through the SSRF-safe client, with its fixed headers, its credential (never sent to another origin
 * on a redirect), the call's `Idempotency-Key`, the shorter of the call's and the tool's timeouts,
 * and its response size limit. A non-2xx answer is an `http_error` (retryable for 429 and 5xx).
 */
export async function invokeHttpTool(
  tool: HttpTool,
  args: Record<string, unknown>,
  call: ToolInvocation,
  tenantId: string,
  deps: HttpToolDeps,
): Promise<ToolResult> {
  const request = buildHttpToolRequest(tool, args);
  if ('problem' in request) return toolErrorResult('invalid_arguments', request.problem);
  const credentials = tool.http.credentials;
  const credentialHeader = credentials?.header.toLowerCase();
  const headers: Record<string, string> = Object.fromEntries(
    Object.entries(tool.http.headers)
      .map(([name, value]) => [name.toLowerCase(), value] as const)
      .filter(([name]) => !callHeaders.has(name) && name !== credentialHeader),
  );
  headers['accept'] ??= 'application/json, text/*;q=0.9, */*;q=0.1';
  headers['idempotency-key'] = call.idempotencyKey;
  if (request.body !== undefined) headers['content-type'] = 'application/json';
  if (credentials !== undefined && credentialHeader !== undefined) {
    try {
      headers[credentialHeader] =
        `${credentials.prefix}${await deps.secrets.read(tenantId, credentials.secret, call.signal)}`;
    } catch (error) {
      if (error instanceof ToolSecretError)
        return toolErrorResult('failed', error.message, { retryable: error.retryable });
      throw error;
    }
  }
  try {
    const response = await deps.fetch({
      method: tool.http.method,
      url: request.url,
      headers,
      ...(request.body === undefined ? {} : { body: request.body }),
      timeoutMs: Math.min(call.timeoutMs, tool.timeout_ms),
      maxResponseBytes: tool.max_response_bytes,
      sensitiveHeaders: credentialHeader === undefined ? [] : [credentialHeader],
      ...(call.signal === undefined ? {} : { signal: call.signal }),
    });
    const text = response.body.toString('utf8');
    if (response.status < 200 || response.status > 299) {
      return toolErrorResult('http_error', `HTTP ${response.status}: ${text.slice(0, 1024)}`, {
        status: response.status,
      });
    }
    return { output: text, isError: false };
  } catch (error) {
    if (error instanceof OutboundRequestError) return toolErrorResult(error.code, error.message);
    throw error;
  }
}
