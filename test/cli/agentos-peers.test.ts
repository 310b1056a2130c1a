import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestNode } from '../support/local-node-harness.ts';
import { startOperatorCliNode } from '../support/cli-local-node.ts';
import type { OperatorCliNode } from '../support/cli-local-node.ts';

/**
 * `agentos peers add|list|remove` against a local node (HLD §7.1), through the CLI as an operator
 * runs it, and the `/v1/admin/peers` routes under it over real HTTP.
 */
let cli: OperatorCliNode;
let node: TestNode;
let reportsDir: string;
const nodeId = `peers-${Date.now().toString(36)}`;

const agentos = (args: string[]) => cli.agentos(args);
const local = (...args: string[]) => cli.local(...args);

beforeAll(async () => {
  cli = await startOperatorCliNode(nodeId);
  ({ node, reportsDir } = cli);
});

afterAll(async () => {
  await cli.stop();
});

describe('agentos peers on a local node', { timeout: 240_000 }, () => {
  it('adds a peer with its tenant mapping, lists it and removes it, with a report of each change', async () => {
    const added = await agentos(
      local(
        'peers',
        'add',
        'west-1',
        '--url',
        'http://127.0.0.1:9/prod',
        '--tenant-map',
        'acme=acme-west',
        '--tenant-map',
        'globex',
      ),
    );
    expect(added).toMatchObject({
      code: 0,
      stdout:
        'trusted peer west-1 for 2 tenant(s); its tokens are verified with http://127.0.0.1:9/prod/.well-known/jwks.json\n',
    });
    expect((await agentos(local('peers', 'add', 'west-1', '--url', 'http://127.0.0.1:9'))).stderr).toMatch(
      /^conflict: Peer west-1 is already trusted/m,
    );

    const listed = await agentos(local('peers', 'list'));
    expect(listed.stdout).toMatch(/^PEER_ID\s+BASE_URL\s+TENANTS\s+ADDED\n/);
    expect(listed.stdout).toMatch(/\nwest-1\s+http:\/\/127\.0\.0\.1:9\/prod\s+acme=acme-west,globex\s+/);

    expect(await agentos(local('peers', 'remove', 'west-1'))).toMatchObject({
      code: 0,
      stdout: 'removed peer west-1: its tokens are refused from now on\n',
    });
    const again = await agentos(local('peers', 'remove', 'west-1'));
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^not_found: Peer west-1 not found/m);

    const actions = await Promise.all(
      (await readdir(reportsDir))
        .filter((file) => file.endsWith('.json'))
        .map(
          async (file) =>
            (JSON.parse(await readFile(join(reportsDir, file), 'utf8')) as { action: string }).action,
        ),
    );
    expect(actions).toEqual(expect.arrayContaining(['peers-add', 'peers-remove']));
  });

  it('refuses a malformed tenant mapping or URL before calling the node, saying what is wrong', async () => {
    const mapping = await agentos(
      local('peers', 'add', 'west-2', '--url', 'http://x.test', '--tenant-map', 'A=b=c'),
    );
    expect(mapping.code).not.toBe(0);
    expect(mapping.stderr).toContain('"A=b=c" is not a tenant mapping');
    const url = await agentos(local('peers', 'add', 'west-2', '--url', 'not-a-url'));
    expect(url.code).toBe(1);
    expect(url.stderr).toMatch(/^invalid_request: .*base_url/m);
    const plain = await agentos(local('peers', 'add', 'west-2', '--url', 'http://west-2.example.com'));
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/^invalid_request: .*must be https/m);
  });
});

describe('agentos peers add --discover', { timeout: 240_000 }, () => {
  it('reads the peer’s info first: trusts it under its own id with its JWKS URL, refuses another id', async () => {
    const info = (await (await fetch(`${node.node.orchestratorUrl}/v1/peer/info`)).json()) as {
      node_id: string;
      jwks_url: string;
    };
    const wrong = await agentos(
      local('peers', 'add', 'not-it', '--url', node.node.orchestratorUrl, '--discover'),
    );
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`answers as node ${info.node_id}, not not-it`);

    const added = await agentos(
      local('peers', 'add', info.node_id, '--url', node.node.orchestratorUrl, '--discover', '--json'),
    );
    expect(added.code).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ peer_id: info.node_id, jwks_url: info.jwks_url });
  });
});

describe('the /v1/admin/peers routes', { timeout: 60_000 }, () => {
  it('refuses a tenant’s token even with the operator scope', async () => {
    await node.auth.registerTenant('acme');
    const token = await node.auth.token('acme', { scopes: ['operator'] });
    const response = await fetch(`${node.node.orchestratorUrl}/v1/admin/peers`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: { code: 'forbidden' } });
  });

  it('returns 404 for a peer it does not trust, and for a malformed peer id', async () => {
    const token = await node.auth.token('operator', { subject: 'ops', scopes: ['operator'] });
    for (const id of ['nobody', 'Not_An_Id']) {
      const response = await fetch(`${node.node.orchestratorUrl}/v1/admin/peers/${id}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(response.status).toBe(404);
    }
  });
});
