import { isIP } from 'node:net';

/**
 * Which network destinations outbound tool traffic may reach (HLD §10.1, SSRF). A tool's URL comes
 * from a tenant or from a model, so nothing it names may be the node itself, its private network,
 * link-local or cloud metadata services, or any address that is not globally routable, however the
 * address is written (IPv4 in decimal, octal or hex, IPv4-mapped or -compatible IPv6, NAT64, 6to4).
 */

type Range = { bits: bigint; prefix: number; width: 32 | 128; reason: string };

function ipv4ToBigInt(address: string): bigint {
  return address.split('.').reduce((value, part) => (value << 8n) | BigInt(Number(part)), 0n);
}

function ipv6ToBigInt(address: string): bigint {
  let text = address;
  // A trailing dotted IPv4 (::ffff:1.2.3.4) becomes two hextets.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1] !== undefined) {
    const v4 = ipv4ToBigInt(dotted[1]);
    text = `${text.slice(0, -dotted[1].length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headParts = head === '' ? [] : head.split(':');
  const tailParts = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - headParts.length - tailParts.length;
  const parts =
    tail === undefined ? headParts : [...headParts, ...Array<string>(missing).fill('0'), ...tailParts];
  return parts.reduce((value, part) => (value << 16n) | BigInt(parseInt(part, 16)), 0n);
}

function v4(cidr: string, reason: string): Range {
  const [address = '', prefix = '32'] = cidr.split('/');
  return { bits: ipv4ToBigInt(address), prefix: Number(prefix), width: 32, reason };
}

function v6(cidr: string, reason: string): Range {
  const [address = '', prefix = '128'] = cidr.split('/');
  return { bits: ipv6ToBigInt(address), prefix: Number(prefix), width: 128, reason };
}

/** IPv4 ranges that are not globally reachable (RFC 6890 and successors). */
const blockedV4: readonly Range[] = [
  v4('0.0.0.0/8', 'this network'),
  v4('10.0.0.0/8', 'private'),
  v4('100.64.0.0/10', 'carrier-grade NAT'),
  v4('127.0.0.0/8', 'loopback'),
  v4('169.254.0.0/16', 'link-local (cloud metadata)'),
  v4('172.16.0.0/12', 'private'),
  v4('192.0.0.0/24', 'IETF protocol assignments'),
  v4('192.0.2.0/24', 'documentation'),
  v4('192.88.99.0/24', '6to4 relay'),
  v4('192.168.0.0/16', 'private'),
  v4('198.18.0.0/15', 'benchmarking'),
  v4('198.51.100.0/24', 'documentation'),
  v4('203.0.113.0/24', 'documentation'),
  v4('224.0.0.0/4', 'multicast'),
  v4('240.0.0.0/4', 'reserved or broadcast'),
];

/** IPv6 ranges that are not globally reachable; the ones embedding IPv4 are checked by that address. */
const blockedV6: readonly Range[] = [
  v6('::/128', 'unspecified'),
  v6('::1/128', 'loopback'),
  v6('100::/64', 'discard'),
  v6('2001::/23', 'IETF protocol assignments'),
  v6('2001:db8::/32', 'documentation'),
  v6('64:ff9b:1::/48', 'local-use NAT64'),
  v6('fc00::/7', 'unique-local'),
  v6('fe80::/10', 'link-local'),
  v6('fec0::/10', 'site-local'),
  v6('ff00::/8', 'multicast'),
];

function inRange(value: bigint, range: Range): boolean {
  const shift = BigInt(range.width - range.prefix);
  return value >> shift === range.bits >> shift;
}

/** The IPv4 address an IPv6 one embeds (mapped, compatible, NAT64, 6to4), if any. */
function embeddedIpv4(value: bigint): string | undefined {
  const low32 = value & 0xffffffffn;
  const toV4 = (n: bigint) => [24n, 16n, 8n, 0n].map((shift) => String((n >> shift) & 0xffn)).join('.');
  if (value >> 32n === 0xffffn) return toV4(low32); // ::ffff:a.b.c.d (mapped)
  if (value >> 32n === 0n && value > 1n) return toV4(low32); // ::a.b.c.d (compatible, deprecated)
  if (value >> 32n === 0xffff0000n) return toV4(low32); // ::ffff:0:a.b.c.d (translated, SIIT)
  if (value >> 32n === ipv6ToBigInt('64:ff9b::') >> 32n) return toV4(low32); // NAT64
  if (value >> 112n === 0x2002n) return toV4((value >> 80n) & 0xffffffffn); // 6to4
  return undefined;
}

/**
 * Parses an IPv4 address the way URL parsers and `inet_aton` do: one to four parts, each decimal,
 * octal (leading 0) or hex (0x), the last filling the remaining bytes (`2130706433`, `0177.0.0.1`,
 * `0x7f.1`, `127.1` are all 127.0.0.1). Undefined when `host` is not such an address.
 */
export function parseIpv4Literal(host: string): string | undefined {
  const parts = host.split('.');
  if (parts.length > 4 || parts.some((part) => part === '')) return undefined;
  const numbers: number[] = [];
  for (const part of parts) {
    let value: number;
    if (/^0x[0-9a-f]*$/i.test(part)) value = part.length === 2 ? 0 : parseInt(part.slice(2), 16);
    else if (/^0[0-7]+$/.test(part)) value = parseInt(part.slice(1), 8);
    else if (/^(0|[1-9][0-9]*)$/.test(part)) value = Number(part);
    else return undefined;
    if (!Number.isSafeInteger(value)) return undefined;
    numbers.push(value);
  }
  const last = numbers.pop() ?? 0;
  if (numbers.some((n) => n > 255) || last >= 256 ** (4 - numbers.length)) return undefined;
  let total = last;
  numbers.forEach((n, index) => {
    total += n * 256 ** (3 - index);
  });
  return [24, 16, 8, 0].map((shift) => String(Math.floor(total / 2 ** shift) % 256)).join('.');
}

/** Host names that always mean the node itself or a metadata service, whatever they resolve to. */
const blockedNames = [
  'localhost',
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
];

/** Why a host name is refused before resolving it, or undefined when it may be resolved. */
export function blockedHostName(hostname: string): string | undefined {
  const name = hostname.toLowerCase().replace(/\.+$/, '');
  if (blockedNames.includes(name) || name.endsWith('.localhost'))
    return `${name} is a local or metadata name`;
  return undefined;
}

/**
 * Why `address` (an IP address in any usual notation) may not be reached, or undefined when it is a
 * globally routable unicast address. Anything that is not an IP address is refused.
 */
export function blockedAddress(address: string): string | undefined {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  if (family === 0) {
    const literal = parseIpv4Literal(bare);
    return literal === undefined ? `${address} is not an IP address` : blockedAddress(literal);
  }
  if (family === 4) {
    const value = ipv4ToBigInt(bare);
    const range = blockedV4.find((candidate) => inRange(value, candidate));
    return range === undefined ? undefined : `${bare} is ${range.reason}`;
  }
  if (bare.includes('%')) return `${bare} has a zone id`;
  const value = ipv6ToBigInt(bare.toLowerCase());
  const inner = embeddedIpv4(value);
  if (inner !== undefined) {
    const reason = blockedAddress(inner);
    return reason === undefined ? undefined : `${bare} embeds ${reason}`;
  }
  const range = blockedV6.find((candidate) => inRange(value, candidate));
  return range === undefined ? undefined : `${bare} is ${range.reason}`;
}

/** The AWS metadata service's IPv6 address (inside fc00::/7, named here because no allow-list may open it). */
const awsMetadataV6 = 'fd00:ec2::254';

/**
 * Why `address` stays refused even when its host is allow-listed, or undefined: link-local
 * addresses (the cloud metadata services live there) and the AWS metadata IPv6 address hand out the
 * node's own credentials, so no configuration opens them (HLD §10.1).
 */
export function neverAllowedAddress(address: string): string | undefined {
  const bare = address.replace(/^\[|\]$/g, '').toLowerCase();
  if (isIP(bare) === 6 && ipv6ToBigInt(bare) === ipv6ToBigInt(awsMetadataV6))
    return `${bare} is the cloud metadata service`;
  const reason = blockedAddress(address);
  return reason !== undefined && reason.includes('link-local') ? reason : undefined;
}

/** Why a host name stays refused even when allow-listed (metadata names), or undefined. */
export function neverAllowedHostName(hostname: string): string | undefined {
  const reason = blockedHostName(hostname);
  return reason !== undefined && !/^(localhost|.*\.localhost) /.test(reason) ? reason : undefined;
}

/**
 * Destinations a node's operator allowed explicitly despite the policy (the local node's own test
 * servers): entries `host:port`, `[v6]:port` for IPv6. Empty by default. Link-local and metadata
 * destinations stay refused whatever the list says.
 */
export class AllowedHosts {
  readonly #entries: ReadonlySet<string>;

  /** Throws, naming the entry, for one {@link normalizeAllowedHost} refuses. */
  constructor(entries: readonly string[]) {
    this.#entries = new Set(entries.filter((entry) => entry.trim() !== '').map(normalizeAllowedHost));
  }

  /** Parses a comma-separated list. */
  static parse(list: string): AllowedHosts {
    return new AllowedHosts(list.split(','));
  }

  /** True when `hostname` (as a URL gives it, IPv6 in brackets) on `port` is allowed. */
  allows(hostname: string, port: number): boolean {
    return this.#entries.has(`${hostname.toLowerCase()}:${port}`);
  }
}

/**
 * Checks one entry of an operator's allow-list (HLD §10.1) and returns it as {@link AllowedHosts}
 * compares it: lower case, IPv4 dotted-decimal, IPv6 compressed in brackets. Throws, saying what is
 * wrong and how to write it, for anything that would never match a URL's host: a scheme, a path,
 * a wildcard, a bare IPv6 address, a port outside 1-65535.
 */
export function normalizeAllowedHost(entry: string): string {
  const text = entry.trim().toLowerCase();
  const wrong = (why: string) =>
    new Error(`"${entry}" is not a host:port (${why}); e.g. 127.0.0.1:8799, [::1]:8799, tools.internal:443`);
  if (text === '') throw wrong('it is empty');
  if (text.includes('://')) throw wrong('write the host without the scheme');
  if (/[\s,/?#@*\\]/.test(text)) throw wrong('no paths, wildcards, credentials, spaces or commas');
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  let host: string;
  let port: string | undefined;
  if (bracketed !== null) {
    if (isIP(bracketed[1] ?? '') !== 6) throw wrong('brackets hold an IPv6 address');
    host = `[${bracketed[1] ?? ''}]`;
    port = bracketed[2];
  } else {
    const parts = text.split(':');
    if (parts.length > 2) throw wrong('write an IPv6 address in brackets');
    host = parts[0] ?? '';
    port = parts[1];
  }
  // One server, not every service of a host (the emulator holding every tenant's data may share it).
  if (port === undefined) throw wrong('name the port: an entry opens one server');
  if (!/^[1-9][0-9]{0,4}$/.test(port)) throw wrong('the port is a number 1-65535');
  if (Number(port) > 65_535) throw wrong('the port is a number 1-65535');
  if (
    bracketed === null &&
    !/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(host)
  ) {
    throw wrong('a host is an IPv4 address or a DNS name');
  }
  // URLs name a host in one canonical form (127.1 is 127.0.0.1, [0::1] is [::1]); an entry in
  // another form would never match, so it is refused with the form to use.
  let canonical: string;
  try {
    canonical = new URL(`http://${host}/`).hostname;
  } catch {
    throw wrong('a host is an IPv4 address or a DNS name');
  }
  if (canonical !== host) throw wrong(`write the host as ${canonical}`);
  if (neverAllowedHostName(host) !== undefined) throw wrong('metadata services can never be allowed');
  if (isIP(host.replace(/^\[|\]$/g, '')) !== 0 && neverAllowedAddress(host) !== undefined)
    throw wrong('link-local and metadata addresses can never be allowed');
  return `${host}:${port}`;
}
