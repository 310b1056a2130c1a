import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { DependencyUnavailableError, InternalError } from '../../errors/agentos-error.ts';
import { isConditionFailure, storageUnavailable } from '../../storage/dynamo-errors.ts';
import { batchGet, getItem, queryPage, transactWrite } from '../../storage/dynamo-items.ts';
import type { TransactItem } from '../../storage/dynamo-items.ts';
import { hashedSortKey, platformKeys, recordSortKey, storageKeys } from '../../storage/keys.ts';
import type { Cursor } from '../tenant-paging.ts';
import { decodeCursor, encodeCursor } from '../tenant-paging.ts';
import { TenantDirectoryConflictError } from '../tenant-directory-port.ts';
import type { ChangeStamp, TenantDirectoryPort } from '../tenant-directory-port.ts';
import {
  accessOf,
  changedTenant,
  epochSeconds,
  maxDisabledPrincipals,
  newPrincipal,
  newTenant,
  prunedRevocations,
  revokedToken,
  principalWithStatus,
  tokenRevocationUntil,
  versionMessage,
  withPrincipalStatus,
} from '../tenant-records.ts';
import type { Revocations, TenantChange, TenantDirectoryOptions } from '../tenant-records.ts';
import { IssuedTokenSchema, PrincipalSchema, TenantSchema } from '../tenant-schemas.ts';
import type {
  CreateTenantRequest,
  IssuedToken,
  Principal,
  PrincipalSpec,
  Tenant,
  TenantAccess,
} from '../tenant-schemas.ts';

/** The largest page a listing reads (the API allows 100). */
const maxPageSize = 100;

/** How often a write that lost a race to another writer is tried again before it gives up. */
const maxWriteAttempts = 8;

/** A tenant's profile item: the tenant, its live revocations, and the revision every write moves. */
const StoredProfileSchema = z.object({
  tenant: TenantSchema,
  revision: z.int().min(1),
  revoked_tokens: z.record(z.string(), z.number()),
  revoked_principals: z.record(z.string(), z.object({ before: z.number(), until: z.number() })),
  // Absent from profiles written before principals could be enabled again.
  disabled_principals: z.array(z.string()).default([]),
});

type Profile = { tenant: Tenant; revision: number; revocations: Revocations };

/**
 * The tenant directory in the node's table (HLD §4.2, §5.2), one partition per kind of record:
 *
 * - `tenant/{t}/profile` (`sk` 0): the tenant and its live revocations, so admitting a token is one
 *   GetItem; every write is conditional on the `revision` it read, so concurrent changes never lose
 *   one, and drops the revocations that have expired.
 * - `platform/tenants`: one small item per tenant (`sk` = a hash of its id), for listing.
 *
 * Listings page in DynamoDB in `sk` order (Query with a limit after the cursor's `sk`).
 * - `tenant/{t}/principals` and `tenant/{t}/tokens`: one item per principal and issued token; a
 *   token's item carries the table's TTL (`expires_at`, epoch seconds), so it goes once it expired.
 *
 * Every item read back is validated before use.
 */
export class DynamoTenantDirectory implements TenantDirectoryPort {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly now: () => Date;
  private readonly maxDisabledPrincipals: number;

  constructor(db: DynamoDBDocumentClient, tableName: string, options: TenantDirectoryOptions = {}) {
    this.db = db;
    this.tableName = tableName;
    this.now = options.now ?? (() => new Date());
    this.maxDisabledPrincipals = options.maxDisabledPrincipals ?? maxDisabledPrincipals;
  }

  async createTenant(request: CreateTenantRequest, stamp: ChangeStamp): Promise<Tenant> {
    const tenant = newTenant(request, stamp);
    for (let attempt = 1; ; attempt++) {
      const codes = await transactWrite(this.db, [
        {
          Put: {
            TableName: this.tableName,
            Item: this.profileItem({
              tenant,
              revision: 1,
              revocations: { tokens: {}, principals: {}, disabledPrincipals: [] },
            }),
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
        {
          Put: {
            TableName: this.tableName,
            Item: {
              pk: platformKeys.tenantDirectory(),
              sk: hashedSortKey(tenant.tenant_id),
              kind: 'directory_entry',
              tenant_id: tenant.tenant_id,
            },
            ConditionExpression: 'attribute_not_exists(pk) OR tenant_id = :id',
            ExpressionAttributeValues: { ':id': tenant.tenant_id },
          },
        },
      ]);
      if (codes === undefined) return tenant;
      if (codes[0] === 'ConditionalCheckFailed')
        throw new TenantDirectoryConflictError(`Tenant ${tenant.tenant_id} already exists`, 'exists');
      if (codes[1] === 'ConditionalCheckFailed')
        throw new TenantDirectoryConflictError(
          `Tenant id ${tenant.tenant_id} cannot be used on this node; choose another`,
          'unusable',
        );
      // Canceled by a concurrent transaction (most likely a create of the same id) that may yet
      // fail: the tenant is not known to exist, so try again; the next attempt wins or sees it.
      if (attempt >= maxWriteAttempts)
        throw new DependencyUnavailableError(
          `Tenant ${tenant.tenant_id} could not be created while it was being changed concurrently; retry`,
        );
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
    }
  }

  async getTenant(tenantId: string): Promise<Tenant | undefined> {
    return (await this.profile(tenantId, false))?.tenant;
  }

  async listTenants(page: {
    limit: number;
    cursor?: Cursor;
  }): Promise<{ tenants: Tenant[]; next: Cursor | null }> {
    const { items: entries, next } = await this.page(platformKeys.tenantDirectory(), page);
    const items = entries.flatMap((item) =>
      typeof item['tenant_id'] === 'string' ? [item['tenant_id']] : [],
    );
    const tenants = new Map<string, Tenant>();
    for (let start = 0; start < items.length; start += 100) {
      const keys = items
        .slice(start, start + 100)
        .map((id) => ({ pk: storageKeys.tenantProfile(id), sk: recordSortKey }));
      for (const item of await batchGet(this.db, this.tableName, keys)) {
        const profile = parseProfile(item);
        tenants.set(profile.tenant.tenant_id, profile.tenant);
      }
    }
    return { tenants: items.flatMap((id) => tenants.get(id) ?? []), next };
  }

  async updateTenant(
    tenantId: string,
    change: TenantChange,
    stamp: ChangeStamp,
    expectedVersion?: number,
  ): Promise<Tenant> {
    let updated: Tenant | undefined;
    await this.changeProfile(
      tenantId,
      (profile) => {
        if (expectedVersion !== undefined && expectedVersion !== profile.tenant.version)
          throw new TenantDirectoryConflictError(
            `Tenant ${tenantId} is at version ${profile.tenant.version}, not ${expectedVersion}`,
            'version',
          );
        updated = changedTenant(profile.tenant, change, stamp);
        return { profile: { ...profile, tenant: updated }, also: [] };
      },
      stamp.at,
    );
    if (updated === undefined) throw new InternalError('The tenant update produced no tenant');
    return updated;
  }

  async getAccess(tenantId: string): Promise<TenantAccess | undefined> {
    const profile = await this.profile(tenantId, false);
    if (profile === undefined) return undefined;
    return accessOf(profile.tenant, profile.revocations, epochSeconds(this.now()));
  }

  async putPrincipal(
    tenantId: string,
    principalId: string,
    spec: PrincipalSpec,
    stamp: ChangeStamp,
    expectedVersion?: number,
  ): Promise<Principal> {
    if ((await this.profile(tenantId, true)) === undefined)
      throw new TenantDirectoryConflictError(`Tenant ${tenantId} not found`, 'missing');
    for (let attempt = 1; ; attempt++) {
      const previous = await this.storedPrincipal(tenantId, principalId);
      if (expectedVersion !== undefined && previous?.principal.version !== expectedVersion)
        throw new TenantDirectoryConflictError(
          versionMessage(principalId, previous?.principal, expectedVersion),
          'version',
        );
      const principal = newPrincipal(tenantId, principalId, spec, stamp, previous?.principal);
      try {
        await this.db.send(
          new PutCommand({
            TableName: this.tableName,
            Item: this.recordItem(storageKeys.principals(tenantId), principalId, 'principal', principal),
            ...principalCondition(previous),
          }),
        );
        return principal;
      } catch (error) {
        if (!isConditionFailure(error)) throw storageUnavailable(error);
        // Another writer changed it since it was read: with an expected version that is a
        // conflict; without, the change is applied again to what is there now.
        if (expectedVersion !== undefined || attempt >= maxWriteAttempts)
          throw new TenantDirectoryConflictError(
            `Principal ${principalId} was changed concurrently; read it and retry`,
            'version',
          );
      }
    }
  }

  async getPrincipal(tenantId: string, principalId: string): Promise<Principal | undefined> {
    return (await this.storedPrincipal(tenantId, principalId, false))?.principal;
  }

  /**
   * The principal's item as stored, with whether it predates principal versions. A key holding
   * another principal (a hash collision) is `unusable`, or no principal when `strict` is false.
   */
  private async storedPrincipal(
    tenantId: string,
    principalId: string,
    strict = true,
  ): Promise<StoredPrincipal | undefined> {
    const item = await getItem(
      this.db,
      this.tableName,
      { pk: storageKeys.principals(tenantId), sk: hashedSortKey(principalId) },
      true,
    );
    if (item === undefined) return undefined;
    if (item['principal_id'] !== principalId) {
      if (!strict) return undefined;
      throw new TenantDirectoryConflictError(
        `The principal id ${principalId} cannot be used on this node; choose another`,
        'unusable',
      );
    }
    return parsePrincipal(item);
  }

  async listPrincipals(
    tenantId: string,
    page: { limit: number; cursor?: Cursor },
  ): Promise<{ principals: Principal[]; next: Cursor | null }> {
    const { items, next } = await this.page(storageKeys.principals(tenantId), page);
    return { principals: items.map((item) => parsePrincipal(item).principal), next };
  }

  async disablePrincipal(
    tenantId: string,
    principalId: string,
    stamp: ChangeStamp,
    keepUntilEpoch: number,
  ): Promise<boolean> {
    return this.changePrincipalStatus(tenantId, principalId, stamp, { disabledAt: stamp.at, keepUntilEpoch });
  }

  async enablePrincipal(tenantId: string, principalId: string, stamp: ChangeStamp): Promise<boolean> {
    return this.changePrincipalStatus(tenantId, principalId, stamp, 'enabled');
  }

  /**
   * Writes the principal's status and the tenant's revocations together (one transaction), on
   * condition that neither moved since they were read.
   */
  private async changePrincipalStatus(
    tenantId: string,
    principalId: string,
    stamp: ChangeStamp,
    change: Parameters<typeof withPrincipalStatus>[2],
  ): Promise<boolean> {
    return this.changeProfile(
      tenantId,
      async (profile) => {
        const previous = await this.storedPrincipal(tenantId, principalId, false);
        if (previous === undefined) return undefined;
        const changed = principalWithStatus(
          previous.principal,
          change === 'enabled' ? 'active' : 'disabled',
          stamp,
        );
        return {
          profile: {
            ...profile,
            revocations: withPrincipalStatus(
              profile.revocations,
              principalId,
              change,
              this.maxDisabledPrincipals,
            ),
          },
          also: [
            {
              Put: {
                TableName: this.tableName,
                Item: this.recordItem(storageKeys.principals(tenantId), principalId, 'principal', changed),
                ...principalCondition(previous),
              },
            },
          ],
        };
      },
      stamp.at,
    );
  }

  async recordToken(token: IssuedToken): Promise<void> {
    await this.putRecord(
      storageKeys.issuedTokens(token.tenant_id),
      token.token_id,
      'issued_token',
      'token_id',
      storedToken(token),
    );
  }

  async listTokens(
    tenantId: string,
    page: { limit: number; cursor?: Cursor; principalId?: string },
  ): Promise<{ tokens: IssuedToken[]; next: Cursor | null }> {
    const { items, next } = await this.page(storageKeys.issuedTokens(tenantId), {
      ...page,
      ...(page.principalId === undefined
        ? {}
        : {
            filter: {
              expression: '#principal = :principal',
              names: { '#principal': 'principal_id' },
              values: { ':principal': page.principalId },
            },
          }),
    });
    return { tokens: items.map(parseToken), next };
  }

  async revokeToken(tenantId: string, tokenId: string, stamp: ChangeStamp): Promise<IssuedToken | undefined> {
    const item = await getItem(
      this.db,
      this.tableName,
      { pk: storageKeys.issuedTokens(tenantId), sk: hashedSortKey(tokenId) },
      true,
    );
    if (item === undefined || item['token_id'] !== tokenId) return undefined;
    const revoked = revokedToken(parseToken(item), stamp.at);
    const until = tokenRevocationUntil(revoked);
    await this.changeProfile(
      tenantId,
      (profile) => ({
        profile:
          until > epochSeconds(stamp.at)
            ? {
                ...profile,
                revocations: {
                  ...profile.revocations,
                  tokens: { ...profile.revocations.tokens, [tokenId]: until },
                },
              }
            : profile,
        also: [
          {
            Put: {
              TableName: this.tableName,
              Item: this.recordItem(
                storageKeys.issuedTokens(tenantId),
                tokenId,
                'issued_token',
                storedToken(revoked),
              ),
            },
          },
        ],
      }),
      stamp.at,
    );
    return revoked;
  }

  /**
   * Reads the tenant's profile, applies `change` and writes the result (with `also`, in one
   * transaction) on condition that no other writer moved the profile meanwhile; a lost race reads
   * again and re-applies the change. Expired revocations are dropped on the way. False (nothing
   * written) when `change` finds nothing to change.
   */
  private async changeProfile(
    tenantId: string,
    change: (
      profile: Profile,
    ) =>
      | { profile: Profile; also: TransactItem[] }
      | undefined
      | Promise<{ profile: Profile; also: TransactItem[] } | undefined>,
    at: Date,
  ): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.profile(tenantId, true);
      if (current === undefined)
        throw new TenantDirectoryConflictError(`Tenant ${tenantId} not found`, 'missing');
      const changed = await change(current);
      if (changed === undefined) return false;
      const { profile, also } = changed;
      const next: Profile = {
        ...profile,
        revision: current.revision + 1,
        revocations: prunedRevocations(profile.revocations, epochSeconds(at)),
      };
      const codes = await transactWrite(this.db, [
        {
          Put: {
            TableName: this.tableName,
            Item: this.profileItem(next),
            ConditionExpression: 'revision = :revision',
            ExpressionAttributeValues: { ':revision': current.revision },
          },
        },
        ...also,
      ]);
      if (codes === undefined) return true;
      if (attempt >= maxWriteAttempts)
        throw new TenantDirectoryConflictError(
          `Tenant ${tenantId} is being changed concurrently; retry`,
          'version',
        );
    }
  }

  /** One page of a partition, read in DynamoDB (its sort keys are the listing positions). */
  private async page(
    pk: string,
    page: { limit: number; cursor?: Cursor; filter?: Parameters<typeof queryPage>[3]['filter'] },
  ): Promise<{ items: Record<string, unknown>[]; next: Cursor | null }> {
    const { items, resumeAfter } = await queryPage(this.db, this.tableName, pk, {
      limit: Math.min(Math.max(1, page.limit), maxPageSize),
      after: page.cursor === undefined ? undefined : decodeCursor(page.cursor),
      ...(page.filter === undefined ? {} : { filter: page.filter }),
    });
    return { items, next: resumeAfter === undefined ? null : encodeCursor(resumeAfter) };
  }

  private async profile(tenantId: string, consistent: boolean): Promise<Profile | undefined> {
    const item = await getItem(
      this.db,
      this.tableName,
      { pk: storageKeys.tenantProfile(tenantId), sk: recordSortKey },
      consistent,
    );
    return item === undefined ? undefined : parseProfile(item);
  }

  private profileItem(profile: Profile): Record<string, unknown> {
    return {
      pk: storageKeys.tenantProfile(profile.tenant.tenant_id),
      sk: recordSortKey,
      kind: 'tenant_profile',
      tenant: profile.tenant,
      revision: profile.revision,
      revoked_tokens: profile.revocations.tokens,
      revoked_principals: profile.revocations.principals,
      disabled_principals: profile.revocations.disabledPrincipals,
    };
  }

  private recordItem(pk: string, id: string, kind: string, record: object): Record<string, unknown> {
    return { ...record, pk, sk: hashedSortKey(id), kind };
  }

  /** Writes a principal or token record; a hash collision with another id is refused. */
  private async putRecord(
    pk: string,
    id: string,
    kind: string,
    field: string,
    record: object,
  ): Promise<void> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: this.recordItem(pk, id, kind, record),
          ConditionExpression: 'attribute_not_exists(pk) OR #id = :id',
          ExpressionAttributeNames: { '#id': field },
          ExpressionAttributeValues: { ':id': id },
        }),
      );
    } catch (error) {
      if (isConditionFailure(error))
        throw new TenantDirectoryConflictError(
          `The id ${id} cannot be used on this node; choose another`,
          'exists',
        );
      throw storageUnavailable(error);
    }
  }
}

/**
 * An issued token's item: `expires_at` is the table's TTL attribute (epoch seconds), so the record
 * disappears once the token has expired (HLD §4.2); the token's own expiry is `token_expires_at`.
 */
function storedToken(token: IssuedToken): Record<string, unknown> {
  return { ...token, token_expires_at: token.expires_at, expires_at: tokenRevocationUntil(token) };
}

function parseToken(item: Record<string, unknown>): IssuedToken {
  const { token_expires_at: expiresAt, ...rest } = item;
  // Items written before the TTL held the token's expiry (a timestamp) in `expires_at`.
  const record = typeof expiresAt === 'string' ? { ...rest, expires_at: expiresAt } : rest;
  // Items written before issuers were recorded have none.
  return parseRecord(IssuedTokenSchema, { issued_by: null, ...record }, 'issued token');
}

/** A principal's item: the principal, and whether it was written with a version. */
type StoredPrincipal = { principal: Principal; versioned: boolean };

function parsePrincipal(item: Record<string, unknown>): StoredPrincipal {
  // Items written before principals had versions count as version 1.
  const versioned = typeof item['version'] === 'number';
  return {
    principal: parseRecord(PrincipalSchema, versioned ? item : { ...item, version: 1 }, 'principal'),
    versioned,
  };
}

/** The condition of a write replacing `previous` (or creating the principal when there is none). */
function principalCondition(previous: StoredPrincipal | undefined): {
  ConditionExpression: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
} {
  if (previous === undefined) return { ConditionExpression: 'attribute_not_exists(pk)' };
  if (!previous.versioned)
    return {
      ConditionExpression: 'attribute_not_exists(#version) AND principal_id = :id',
      ExpressionAttributeNames: { '#version': 'version' },
      ExpressionAttributeValues: { ':id': previous.principal.principal_id },
    };
  return {
    ConditionExpression: '#version = :version',
    ExpressionAttributeNames: { '#version': 'version' },
    ExpressionAttributeValues: { ':version': previous.principal.version },
  };
}

function parseProfile(item: Record<string, unknown>): Profile {
  const stored = parseRecord(StoredProfileSchema, item, 'tenant profile');
  return {
    tenant: stored.tenant,
    revision: stored.revision,
    revocations: {
      tokens: stored.revoked_tokens,
      principals: stored.revoked_principals,
      disabledPrincipals: stored.disabled_principals,
    },
  };
}

function parseRecord<T>(schema: z.ZodType<T>, item: Record<string, unknown>, what: string): T {
  const parsed = schema.safeParse(item);
  if (!parsed.success)
    throw new InternalError(`A stored ${what} record is malformed`, { cause: parsed.error });
  return parsed.data;
}
