import { emitJson, isJsonOutput } from './cli-output.ts';
import { defaultTenantScopes, TenantIdSchema } from '../../functions/shared/auth/auth-context.ts';
import type { TokenIssuer } from '../../functions/shared/auth/token-issuer.ts';

/** What `agentos token` asks for, whatever the target. */
export type TokenRequest = { tenant?: string; subject?: string; scopes?: string[]; ttlSeconds: number };

/** The tenant a token request names, or an exit code 2 (usage) after saying why it is invalid. */
export function requestedTenant(request: TokenRequest, fallback: string): string | 2 {
  const tenant = request.tenant ?? fallback;
  if (TenantIdSchema.safeParse(tenant).success) return tenant;
  process.stderr.write(`Invalid tenant id "${tenant}": use 1-63 characters of a-z, 0-9, "_" and "-".\n`);
  return 2;
}

/**
 * Prints the token `agentos token` mints: the tenant's admin (or the given subject), the tenant
 * member scopes unless others are asked for.
 */
export async function printToken(
  issuer: TokenIssuer,
  tenant: string,
  request: TokenRequest,
  out: NodeJS.WritableStream = process.stdout,
): Promise<0> {
  const claims = {
    tenantId: tenant,
    subject: request.subject ?? `admin@${tenant}`,
    scopes:
      request.scopes !== undefined && request.scopes.length > 0 ? request.scopes : [...defaultTenantScopes],
    ttlSeconds: request.ttlSeconds,
  };
  const token = await issuer.issue(claims);
  if (isJsonOutput()) {
    emitJson({
      token,
      tenant_id: claims.tenantId,
      subject: claims.subject,
      scopes: claims.scopes,
      expires_in: claims.ttlSeconds,
    });
    return 0;
  }
  out.write(`${token}\n`);
  return 0;
}
