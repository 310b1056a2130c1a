import { afterAll, describe, expect, it } from 'vitest';
import {
  AllowedHosts,
  blockedAddress,
  normalizeAllowedHost,
  parseIpv4Literal,
} from '../../../functions/shared/net/address-policy.ts';
import { createSafeFetch, OutboundRequestError } from '../../../functions/shared/net/safe-fetch.ts';
import type { HostResolver, SafeRequest } from '../../../functions/shared/net/safe-fetch.ts';
import { startToolTestServer } from '../../support/tool-test-doubles.ts';

const server = await startToolTestServer();
afterAll(() => server.close());

const get = (url: string, extra: Partial<SafeRequest> = {}): SafeRequest => ({
  method: 'GET',
  url,
  timeoutMs: 5000,
  maxResponseBytes: 64 * 1024,
  ...extra,
});

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(OutboundRequestError);
  return (error as OutboundRequestError).code;
}

/** A resolver answering from a table, recording what it was asked. */
function resolverOf(answers: Record<string, string[]>): HostResolver & { asked: string[] } {
  const asked: string[] = [];
  const resolve = async (host: string) => {
    asked.push(host);
    return (answers[host] ?? []).map((address) => ({
      address,
      family: address.includes(':') ? (6 as const) : (4 as const),
    }));
  };
  return Object.assign(resolve, { asked });
}

describe('the SSRF-safe client', () => {
  const strict = createSafeFetch({ resolver: resolverOf({}) });

  it.each([
    ['loopback', 'http://127.0.0.1/'],
    ['this network', 'http://0.0.0.0/'],
    ['IPv6 loopback', 'http://[::1]/'],
    ['private 10/8', 'http://10.1.2.3/'],
    ['private 172.16/12', 'http://172.20.0.1/'],
    ['private 192.168/16', 'http://192.168.1.1/'],
    ['the metadata service', 'http://169.254.169.254/latest/meta-data/'],
    ['IPv4-mapped loopback', 'http://[::ffff:127.0.0.1]/'],
    ['IPv4-mapped metadata (hex form)', 'http://[::ffff:a9fe:a9fe]/'],
    ['decimal loopback', 'http://2130706433/'],
    ['octal loopback', 'http://0177.0.0.1/'],
    ['hex loopback', 'http://0x7f.0.0.1/'],
    ['short loopback', 'http://127.1/'],
    ['CGNAT', 'http://100.64.0.1/'],
    ['unique-local IPv6', 'http://[fd00:ec2::254]/'],
    ['link-local IPv6', 'http://[fe80::1]/'],
    ['multicast', 'http://224.0.0.1/'],
    ['broadcast', 'http://255.255.255.255/'],
    ['localhost', 'http://localhost/'],
    ['a .localhost name', 'http://api.localhost/'],
    ['the GCP metadata name', 'http://metadata.google.internal/'],
  ])('refuses %s with blocked_destination', async (_what, url) => {
    expect(await refusal(strict(get(url)))).toBe('blocked_destination');
  });

  it('refuses schemes other than http and https, and URLs with credentials', async () => {
    expect(await refusal(strict(get('file:///etc/passwd')))).toBe('blocked_destination');
    expect(await refusal(strict(get('ftp://example.com/')))).toBe('blocked_destination');
    expect(await refusal(strict(get('http://user:pw@example.com/')))).toBe('blocked_destination');
  });

  it('refuses a name resolving to a private address, and one resolving to any non-public address', async () => {
    const resolver = resolverOf({
      'internal.example.com': ['10.0.0.5'],
      'mixed.example.com': ['93.184.216.34', '127.0.0.1'],
    });
    const fetch = createSafeFetch({ resolver });
    expect(await refusal(fetch(get('http://internal.example.com/')))).toBe('blocked_destination');
    expect(await refusal(fetch(get('http://mixed.example.com/')))).toBe('blocked_destination');
    expect(resolver.asked).toEqual(['internal.example.com', 'mixed.example.com']);
  });

  it('connects to the address it checked, never resolving the name again (no DNS rebinding)', async () => {
    // The first answer is public; a rebinding resolver would answer loopback next. The connection
    // goes to the vetted address, which here is the allow-listed test server.
    let calls = 0;
    const resolver: HostResolver = async () => {
      calls += 1;
      return [{ address: calls === 1 ? '127.0.0.1' : '10.0.0.1', family: 4 }];
    };
    const fetch = createSafeFetch({
      resolver,
      allowedHosts: new AllowedHosts([`tools.test:${server.port}`]),
    });
    const response = await fetch(get(`http://tools.test:${server.port}/echo/rebind`));
    expect(response.status).toBe(200);
    expect(calls).toBe(1);
    expect(JSON.parse(response.body.toString('utf8'))).toMatchObject({
      headers: { host: `tools.test:${server.port}` },
    });
  });

  it('reaches a local test server only when it is allow-listed', async () => {
    expect(await refusal(strict(get(`${server.url}/echo`)))).toBe('blocked_destination');
    const allowed = createSafeFetch({ allowedHosts: AllowedHosts.parse(`127.0.0.1:${server.port}`) });
    expect((await allowed(get(`${server.url}/echo`))).status).toBe(200);
    // The entry names one port, not the whole loopback.
    expect(await refusal(allowed(get(`http://127.0.0.1:${server.port + 1}/`)))).toBe('blocked_destination');
  });

  it('refuses a redirect to loopback from an allowed server', async () => {
    const allowed = createSafeFetch({ allowedHosts: new AllowedHosts([`127.0.0.1:${server.port}`]) });
    const url = `${server.url}/redirect?to=${encodeURIComponent('http://127.0.0.1:9/secret')}`;
    expect(await refusal(allowed(get(url)))).toBe('blocked_destination');
    const toMetadata = `${server.url}/redirect?to=${encodeURIComponent('http://169.254.169.254/')}`;
    expect(await refusal(allowed(get(toMetadata)))).toBe('blocked_destination');
  });

  it('follows an allowed redirect, keeping credentials only on the same origin', async () => {
    const resolver = resolverOf({ 'other.test': ['127.0.0.1'] });
    const allowed = createSafeFetch({
      resolver,
      allowedHosts: new AllowedHosts([`127.0.0.1:${server.port}`, `other.test:${server.port}`]),
    });
    const headers = { authorization: 'Bearer t0ken', 'x-api-key': 'k3y', 'x-plain': 'kept' };
    const same = await allowed(
      get(`${server.url}/redirect?to=/echo/same`, { headers, sensitiveHeaders: ['x-api-key'] }),
    );
    expect(JSON.parse(same.body.toString('utf8'))).toMatchObject({
      url: '/echo/same',
      headers: { authorization: 'Bearer t0ken', 'x-api-key': 'k3y' },
    });
    const other = await allowed(
      get(`${server.url}/redirect?to=${encodeURIComponent(`http://other.test:${server.port}/echo/other`)}`, {
        headers,
        sensitiveHeaders: ['x-api-key'],
      }),
    );
    const seen = JSON.parse(other.body.toString('utf8')) as { headers: Record<string, string> };
    expect(seen.headers['authorization']).toBeUndefined();
    expect(seen.headers['x-api-key']).toBeUndefined();
    expect(seen.headers['x-plain']).toBe('kept');
  });

  it('gives up after 5 redirects', async () => {
    const allowed = createSafeFetch({ allowedHosts: new AllowedHosts([`127.0.0.1:${server.port}`]) });
    let url = '/echo/end';
    for (let i = 0; i < 6; i += 1) url = `/redirect?to=${encodeURIComponent(url)}`;
    expect(await refusal(allowed(get(`${server.url}${url}`)))).toBe('network_error');
  });

  it('fails with response_too_large as soon as the body passes the limit, and timeout when the server stalls', async () => {
    const allowed = createSafeFetch({ allowedHosts: new AllowedHosts([`127.0.0.1:${server.port}`]) });
    expect(await refusal(allowed(get(`${server.url}/big`, { maxResponseBytes: 1000 })))).toBe(
      'response_too_large',
    );
    expect(await refusal(allowed(get(`${server.url}/slow`, { timeoutMs: 200 })))).toBe('timeout');
  });
});

describe('the address policy', () => {
  it('reads IPv4 literals in every notation URL parsers accept', () => {
    expect(parseIpv4Literal('2130706433')).toBe('127.0.0.1');
    expect(parseIpv4Literal('0177.0.0.1')).toBe('127.0.0.1');
    expect(parseIpv4Literal('0x7f000001')).toBe('127.0.0.1');
    expect(parseIpv4Literal('10.1')).toBe('10.0.0.1');
    expect(parseIpv4Literal('example.com')).toBeUndefined();
    expect(parseIpv4Literal('256.0.0.1')).toBeUndefined();
  });

  it('allows public unicast addresses and refuses the IPv6 forms embedding private ones', () => {
    expect(blockedAddress('93.184.216.34')).toBeUndefined();
    expect(blockedAddress('2606:4700::1111')).toBeUndefined();
    expect(blockedAddress('::ffff:93.184.216.34')).toBeUndefined();
    expect(blockedAddress('::ffff:10.0.0.1')).toContain('private');
    expect(blockedAddress('::127.0.0.1')).toContain('loopback');
    expect(blockedAddress('64:ff9b::a9fe:a9fe')).toContain('link-local');
    expect(blockedAddress('2002:7f00:1::')).toContain('loopback');
    expect(blockedAddress('2130706433')).toContain('loopback');
    expect(blockedAddress('::ffff:0:127.0.0.1')).toContain('loopback');
    expect(blockedAddress('64:ff9b:1::8.8.8.8')).toContain('NAT64');
  });

  it('takes allow-list entries as host:port only, and never link-local or metadata destinations', () => {
    expect(normalizeAllowedHost('Tools.Test:8080')).toBe('tools.test:8080');
    for (const entry of [
      '127.0.0.1',
      '169.254.169.254:80',
      '[fe80::1]:80',
      '[fd00:ec2::254]:80',
      'metadata:80',
    ]) {
      expect(() => new AllowedHosts([entry])).toThrow(`"${entry}" is not a host:port`);
    }
  });
});

describe('an allow-listed destination', () => {
  it('still refuses a name that resolves to a link-local (metadata) address', async () => {
    const fetch = createSafeFetch({
      resolver: resolverOf({ 'tools.test': ['169.254.169.254'] }),
      allowedHosts: new AllowedHosts(['tools.test:80']),
    });
    expect(await refusal(fetch(get('http://tools.test/latest/meta-data/')))).toBe('blocked_destination');
  });
});
