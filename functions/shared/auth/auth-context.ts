import { z } from 'zod';

/** Tenant ids are path segments of every storage key, so they are restricted to a safe alphabet. */
export const TenantIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'tenant ids are 1-63 characters of a-z, 0-9, "_" and "-"');

/**
 * The Auth Context (HLD §3.3) every internal call carries: who is calling, for which tenant, with
 * which scopes, under which policy context.
 */
export const AuthContextSchema = z
  .object({
    tenant_id: TenantIdSchema,
    principal: z.object({
      id: z.string().min(1).max(256),
      type: z.enum(['user', 'service']),
    }),
    scopes: z.array(z.string()),
    policy_context: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'AuthContext' });

export type AuthContext = z.infer<typeof AuthContextSchema>;

/** Scopes AgentOS understands. A token carries the subset its holder may use. */
export const scopes = {
  runsWrite: 'runs:write',
  runsRead: 'runs:read',
  /** With `runs:read`: read every run of the tenant, not only the caller's own. */
  runsReadAll: 'runs:read:all',
  /** With `runs:write`: cancel every run of the tenant, not only the caller's own. */
  runsWriteAll: 'runs:write:all',
  modelsInvoke: 'models:invoke',
  modelsRead: 'models:read',
  policyCheck: 'policy:check',
  /** Read one's own metered usage. */
  usageRead: 'usage:read',
  /** With `usage:read`: read every principal's usage of the tenant. */
  usageReadAll: 'usage:read:all',
  /** Administer the tenant's principals and the tokens issued to them. */
  tenantAdmin: 'tenant:admin',
  /** Read the tenant's agents and their versions. */
  agentsRead: 'agents:read',
  /** Create, update and delete the tenant's agents. */
  agentsWrite: 'agents:write',
  /** Read the built-in tools and the tenant's HTTP tools. */
  toolsRead: 'tools:read',
  /** Declare, replace and delete the tenant's HTTP tools. */
  toolsWrite: 'tools:write',
  /** Read and search the tenant's memory. */
  memoryRead: 'memory:read',
  /** Write and delete entries of the tenant's memory. */
  memoryWrite: 'memory:write',
  operator: 'operator',
} as const;

export type Scope = (typeof scopes)[keyof typeof scopes];

/** Scopes a tenant member gets by default from `agentos token`. */
export const defaultTenantScopes: Scope[] = [
  scopes.runsWrite,
  scopes.runsRead,
  scopes.modelsInvoke,
  scopes.modelsRead,
  scopes.policyCheck,
  scopes.usageRead,
  scopes.agentsRead,
  scopes.agentsWrite,
  scopes.toolsRead,
  scopes.toolsWrite,
  scopes.memoryRead,
  scopes.memoryWrite,
];
