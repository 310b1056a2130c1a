import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { JSONWebKeySet } from 'jose';
import { z } from 'zod';
import { AlarmOverridesSchema } from '../../functions/shared/observability/alarm-catalog.ts';
import type { AlarmOverrides } from '../../functions/shared/observability/alarm-catalog.ts';
import { corsEnv } from '../../functions/shared/http/cors.ts';
import { normalizeAllowedHost } from '../../functions/shared/net/address-policy.ts';
import { resourceNames } from '../resources/definitions.ts';

/** The external identity provider a deployed node trusts besides itself (HLD §3.3). */
export type IdentityProviderSettings = { issuer: string; jwksUrl: string };

/**
 * The node's own signing keys: the Secrets Manager secret holding the private key set (see
 * functions/shared/auth/signing-keys.ts) and the public JWKS the node publishes and verifies its
 * service tokens with. `agentos up` creates both before it deploys.
 */
export type NodeKeySettings = { signingKeySecretArn: string; jwks: JSONWebKeySet };

/** Everything that varies between deployments of the node stack; the rest is in definitions.ts. */
export type NodeSettings = {
  nodeId: string;
  /** The `aud` every accepted token carries, and every service token is stamped with. */
  audience: string;
  identityProvider: IdentityProviderSettings | undefined;
  keys: NodeKeySettings;
  /** A model catalog JSON file shipped with the Model Policy's code; the local models without it. */
  modelCatalogFile: string | undefined;
  /** Development nodes only: let `cdk destroy` delete the table and logs instead of retaining them. */
  destroyOnRemoval: boolean;
  logRetention: RetentionDays;
  /**
   * Destinations the step worker's tools may reach although the SSRF policy refuses them (HLD §10.1),
   * `host` or `host:port`; empty refuses every non-public destination.
   */
  toolAllowedHosts: string[];
  /** Runs the node runs at once (HLD §10.2); the functions' default when unset. */
  nodeMaxConcurrentRuns: number | undefined;
  /** `queue` or `reject` a new run while the node is full; the functions' default when unset. */
  nodeCapacityMode: 'queue' | 'reject' | undefined;
  /**
   * Web origins whose pages may call the node's APIs (CORS); none, the default, turns CORS off.
   * `allowCredentials` lets those pages send cookies or HTTP auth.
   */
  cors: { allowedOrigins: string[]; allowCredentials: boolean };
  /** The stage's changes to the baseline alarms (HLD §9.3): `alerts.thresholds` of its configuration. */
  alarmOverrides: AlarmOverrides;
  /** Where the alert notifier mails the node's alarms, and how (HLD §9.3). */
  alerts: AlertSettings;
  /**
   * Mutual TLS between peers (HLD §7.1): the Orchestrator API served only on this custom domain,
   * whose clients must present a certificate the truststore vouches for; off (undefined) by default.
   */
  federationMtls: FederationMtlsSettings | undefined;
  /**
   * The complete ARN of the secret holding `{cert, key}` (PEM) the node presents to peers behind
   * mutual TLS when it forwards runs and pushes events (HLD §7.1); none (undefined) by default.
   */
  federationClientCertSecretArn: string | undefined;
};

/** The custom domain and truststore of the Orchestrator API when peers must use mutual TLS. */
export type FederationMtlsSettings = {
  /** The domain peers call, e.g. `agentos.example.com`; its DNS record is the operator's. */
  domainName: string;
  /** The ACM certificate of that domain, in the stack's region. */
  certificateArn: string;
  /** The truststore (PEM bundle of the CAs whose client certificates are accepted) in S3. */
  truststore: { bucket: string; key: string; version: string | undefined };
};

/** The alert notifier's settings: `alerts` of the node configuration. */
export type AlertSettings = {
  /** The SES identity (or relay address) alert e-mail is sent from. */
  sender: string;
  /** Recipients; none sends to the sender itself, a verified identity even in the SES sandbox. */
  recipients: string[];
  windowMinutes: number;
  /** An SMTP relay instead of the SESv2 API; its credentials are in one Secrets Manager secret. */
  smtp: { host: string; port: number; secure: boolean; credentialsSecretArn: string | undefined } | undefined;
};

/** The alert sender when the configuration names none (the local node's too). */
export const defaultAlertSender = 'alerts@agentos.local';

/** The CDK context keys a deployment can set (`cdk synth -c agentos:nodeId=dev`). */
export const contextKeys = {
  nodeId: 'agentos:nodeId',
  audience: 'agentos:audience',
  identityProviderIssuer: 'agentos:idpIssuer',
  identityProviderJwksUrl: 'agentos:idpJwksUrl',
  serviceSigningKeySecretArn: 'agentos:serviceSigningKeySecretArn',
  nodeJwks: 'agentos:nodeJwks',
  modelCatalogFile: 'agentos:modelCatalogFile',
  destroyOnRemoval: 'agentos:destroyOnRemoval',
  logRetention: 'agentos:logRetentionDays',
  /** Comma-separated `host` or `host:port` entries (`tools.allowed_hosts` of the node configuration). */
  toolAllowedHosts: 'agentos:toolAllowedHosts',
  /** `capacity.max_concurrent_runs` of the node configuration. */
  nodeMaxConcurrentRuns: 'agentos:nodeMaxConcurrentRuns',
  /** `capacity.mode` of the node configuration: `queue` or `reject`. */
  nodeCapacityMode: 'agentos:nodeCapacityMode',
  /** Comma-separated web origins (`https://app.example.com`) allowed to call the APIs from a browser. */
  corsAllowedOrigins: 'agentos:corsAllowedOrigins',
  /** `true` to let those origins' pages send credentials. */
  corsAllowCredentials: 'agentos:corsAllowCredentials',
  /** JSON of `alerts.thresholds` of the node configuration: per-alarm threshold, periods, enabled. */
  alarmThresholds: 'agentos:alarmThresholds',
  /** `alerts.sender` of the node configuration. */
  alertSender: 'agentos:alertSender',
  /** Comma-separated `alerts.recipients`. */
  alertRecipients: 'agentos:alertRecipients',
  /** `alerts.window_minutes`. */
  alertWindowMinutes: 'agentos:alertWindowMinutes',
  /** `alerts.smtp.host`: mail through this relay instead of the SESv2 API. */
  alertSmtpHost: 'agentos:alertSmtpHost',
  alertSmtpPort: 'agentos:alertSmtpPort',
  alertSmtpSecure: 'agentos:alertSmtpSecure',
  /** The complete ARN of the secret holding the relay's `{"user", "pass"}`. */
  alertSmtpSecretArn: 'agentos:alertSmtpSecretArn',
  /** The Orchestrator API's custom domain; with the two below, turns mutual TLS between peers on. */
  federationMtlsDomainName: 'agentos:federationMtlsDomainName',
  /** The ACM certificate ARN of that domain. */
  federationMtlsCertificateArn: 'agentos:federationMtlsCertificateArn',
  /** `s3://<bucket>/<key>` of the mutual-TLS truststore. */
  federationMtlsTruststoreUri: 'agentos:federationMtlsTruststoreUri',
  /** The truststore object's S3 version (optional; the latest when unset). */
  federationMtlsTruststoreVersion: 'agentos:federationMtlsTruststoreVersion',
  /** The complete ARN of the secret with the client certificate the node presents to peers. */
  federationClientCertSecretArn: 'agentos:federationClientCertSecretArn',
} as const;

/** Reads one context value; anything else than a non-empty string or a boolean/number is absent. */
export type ContextReader = (key: string) => unknown;

function stringContext(read: ContextReader, key: string): string | undefined {
  const value = read(key);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw new Error(`Context ${key} must be a string, got ${JSON.stringify(value)}`);
  }
  const text = String(value).trim();
  return text === '' ? undefined : text;
}

/** `-c key=true` arrives as the string "true"; cdk.json can hold a real boolean. */
function booleanContext(read: ContextReader, key: string, fallback: boolean): boolean {
  const value = read(key);
  if (value === undefined) return fallback;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new Error(`Context ${key} must be true or false, got ${JSON.stringify(value)}`);
}

const retentionChoices: readonly number[] = Object.values(RetentionDays).filter(
  (value) => typeof value === 'number',
);

function retentionContext(read: ContextReader, key: string, fallback: RetentionDays): RetentionDays {
  const raw = stringContext(read, key);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!retentionChoices.includes(value) || value === RetentionDays.INFINITE) {
    throw new Error(
      `Context ${key} must be a CloudWatch Logs retention in days (1, 3, 5, 7, 14, 30, …), got "${raw}"`,
    );
  }
  return value as RetentionDays;
}

function secretArnContext(read: ContextReader, key: string): string | undefined {
  const arn = stringContext(read, key);
  // A complete ARN ends in the 6-character suffix Secrets Manager adds; IAM grants need it exact.
  if (
    arn !== undefined &&
    !/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/.test(arn)
  ) {
    throw new Error(`Context ${key} must be a complete Secrets Manager secret ARN, got "${arn}"`);
  }
  return arn;
}

function positiveIntContext(read: ContextReader, key: string): number | undefined {
  const raw = stringContext(read, key);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new Error(`Context ${key} must be a positive integer, got "${raw}"`);
  }
  return value;
}

function capacityModeContext(read: ContextReader, key: string): 'queue' | 'reject' | undefined {
  const raw = stringContext(read, key);
  if (raw === undefined || raw === 'queue' || raw === 'reject') return raw;
  throw new Error(`Context ${key} must be queue or reject, got "${raw}"`);
}

function allowedHostsContext(read: ContextReader, key: string): string[] {
  const raw = stringContext(read, key);
  if (raw === undefined) return [];
  return raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      try {
        return normalizeAllowedHost(entry);
      } catch (error) {
        throw new Error(`Context ${key}: ${(error as Error).message}`, { cause: error });
      }
    });
}

/** Default node id of a deployment that sets none. */
export const defaultNodeId = 'main';

/** Default CloudWatch Logs retention of the functions' log groups. */
export const defaultLogRetention = RetentionDays.ONE_MONTH;

const PublicJwksSchema = z.object({
  keys: z
    .array(z.looseObject({ kty: z.string(), kid: z.string().min(1) }))
    .min(1)
    .max(4)
    // A private member here would publish the node's signing key.
    .refine((keys) => keys.every((key) => !('d' in key) && !('k' in key)), 'must hold public keys only'),
});

function jwksContext(read: ContextReader, key: string): JSONWebKeySet | undefined {
  const raw = stringContext(read, key);
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new Error(`Context ${key} must be a JWK set as JSON`);
  }
  const parsed = PublicJwksSchema.safeParse(value);
  if (!parsed.success)
    throw new Error(`Context ${key} must be a JWK set of 1-4 public keys with kty and kid`);
  return parsed.data as JSONWebKeySet;
}

/**
 * An HTTPS URL: keys fetched over plain HTTP could be swapped by anyone on the path, and with them
 * every token forged. Plain HTTP is only for a provider on this machine (emulator trials, tests).
 */
function httpsUrlContext(read: ContextReader, key: string): string | undefined {
  const url = stringContext(read, key);
  if (url === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`Context ${key} must be an https URL, got "${url}"`);
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname);
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && loopback))
    throw new Error(`Context ${key} must be an https URL (http only on this machine), got "${url}"`);
  return url;
}

/** The CORS settings, validated by the functions' own contract so a bad origin fails at synth. */
function corsContext(read: ContextReader): NodeSettings['cors'] {
  const origins = stringContext(read, contextKeys.corsAllowedOrigins);
  const parsed = corsEnv.variables.AGENTOS_CORS_ALLOWED_ORIGINS.safeParse(origins);
  if (!parsed.success) {
    throw new Error(
      `Context ${contextKeys.corsAllowedOrigins} must list origins such as https://app.example.com, got "${origins}"`,
    );
  }
  return {
    allowedOrigins: parsed.data,
    allowCredentials: booleanContext(read, contextKeys.corsAllowCredentials, false),
  };
}

/** The stage's alarm overrides, validated by the catalog's own schema so a typo fails at synth. */
function alarmOverridesContext(read: ContextReader): AlarmOverrides {
  const raw = read(contextKeys.alarmThresholds);
  if (raw === undefined || raw === '') return {};
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch (cause) {
      throw new Error(`Context ${contextKeys.alarmThresholds} must be JSON`, { cause });
    }
  }
  const parsed = AlarmOverridesSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `Context ${contextKeys.alarmThresholds} is invalid at ${issue?.path.join('.') ?? '?'}: ${issue?.message ?? ''}`,
    );
  }
  return parsed.data;
}

const emailPattern = /^[^\s@,]+@[^\s@,]+\.[^\s@,]+$/;

function emailContext(read: ContextReader, key: string): string | undefined {
  const value = stringContext(read, key);
  if (value !== undefined && !emailPattern.test(value))
    throw new Error(`Context ${key} must be an e-mail address, got "${value}"`);
  return value;
}

/** The alert notifier's settings, validated so a typo fails at synth rather than at the first alarm. */
function alertContext(read: ContextReader): AlertSettings {
  const recipients = (stringContext(read, contextKeys.alertRecipients) ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  for (const recipient of recipients) {
    if (!emailPattern.test(recipient))
      throw new Error(
        `Context ${contextKeys.alertRecipients} must list e-mail addresses, got "${recipient}"`,
      );
  }
  const windowMinutes = positiveIntContext(read, contextKeys.alertWindowMinutes) ?? 60;
  if (windowMinutes > 1_440)
    throw new Error(`Context ${contextKeys.alertWindowMinutes} must be at most 1440 minutes`);
  const host = stringContext(read, contextKeys.alertSmtpHost);
  const port = positiveIntContext(read, contextKeys.alertSmtpPort) ?? 587;
  if (port > 65_535) throw new Error(`Context ${contextKeys.alertSmtpPort} must be a TCP port`);
  return {
    sender: emailContext(read, contextKeys.alertSender) ?? defaultAlertSender,
    recipients,
    windowMinutes,
    smtp:
      host === undefined
        ? undefined
        : {
            host,
            port,
            secure: booleanContext(read, contextKeys.alertSmtpSecure, port === 465),
            credentialsSecretArn: secretArnContext(read, contextKeys.alertSmtpSecretArn),
          },
  };
}

const domainNamePattern = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const certificateArnPattern = /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/;
const s3UriPattern = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/;

/** Mutual TLS for peers: all three of domain, certificate and truststore, or none (off). */
function federationMtlsContext(read: ContextReader): FederationMtlsSettings | undefined {
  const domainName = stringContext(read, contextKeys.federationMtlsDomainName);
  const certificateArn = stringContext(read, contextKeys.federationMtlsCertificateArn);
  const truststoreUri = stringContext(read, contextKeys.federationMtlsTruststoreUri);
  const version = stringContext(read, contextKeys.federationMtlsTruststoreVersion);
  const set = [domainName, certificateArn, truststoreUri].filter((value) => value !== undefined);
  if (set.length === 0) {
    if (version !== undefined)
      throw new Error(`Context ${contextKeys.federationMtlsTruststoreVersion} needs mutual TLS turned on`);
    return undefined;
  }
  if (domainName === undefined || certificateArn === undefined || truststoreUri === undefined)
    throw new Error(
      `Contexts ${contextKeys.federationMtlsDomainName}, ${contextKeys.federationMtlsCertificateArn} and ` +
        `${contextKeys.federationMtlsTruststoreUri} go together: set all three or none`,
    );
  if (!domainNamePattern.test(domainName))
    throw new Error(
      `Context ${contextKeys.federationMtlsDomainName} must be a domain name, got "${domainName}"`,
    );
  if (!certificateArnPattern.test(certificateArn))
    throw new Error(
      `Context ${contextKeys.federationMtlsCertificateArn} must be an ACM certificate ARN, got "${certificateArn}"`,
    );
  const uri = s3UriPattern.exec(truststoreUri);
  if (uri === null)
    throw new Error(
      `Context ${contextKeys.federationMtlsTruststoreUri} must be s3://<bucket>/<key>, got "${truststoreUri}"`,
    );
  return { domainName, certificateArn, truststore: { bucket: uri[1]!, key: uri[2]!, version } };
}

/** Builds a node's settings from CDK context, validating every value before anything is synthesized. */
export function nodeSettingsFromContext(read: ContextReader): NodeSettings {
  const nodeId = stringContext(read, contextKeys.nodeId) ?? defaultNodeId;
  resourceNames(nodeId);
  const issuer = stringContext(read, contextKeys.identityProviderIssuer);
  const jwksUrl = httpsUrlContext(read, contextKeys.identityProviderJwksUrl);
  if ((issuer === undefined) !== (jwksUrl === undefined)) {
    throw new Error(
      `Contexts ${contextKeys.identityProviderIssuer} and ${contextKeys.identityProviderJwksUrl} go together: set both or neither`,
    );
  }
  const signingKeySecretArn = secretArnContext(read, contextKeys.serviceSigningKeySecretArn);
  const jwks = jwksContext(read, contextKeys.nodeJwks);
  if (signingKeySecretArn === undefined || jwks === undefined) {
    throw new Error(
      `The node's signing keys are not set (contexts ${contextKeys.serviceSigningKeySecretArn} and ${contextKeys.nodeJwks}): ` +
        '`agentos up` creates them and passes both; see README "AWS mode"',
    );
  }
  return {
    nodeId,
    audience: stringContext(read, contextKeys.audience) ?? 'agentos',
    identityProvider: issuer === undefined || jwksUrl === undefined ? undefined : { issuer, jwksUrl },
    keys: { signingKeySecretArn, jwks },
    modelCatalogFile: stringContext(read, contextKeys.modelCatalogFile),
    destroyOnRemoval: booleanContext(read, contextKeys.destroyOnRemoval, false),
    logRetention: retentionContext(read, contextKeys.logRetention, defaultLogRetention),
    toolAllowedHosts: allowedHostsContext(read, contextKeys.toolAllowedHosts),
    nodeMaxConcurrentRuns: positiveIntContext(read, contextKeys.nodeMaxConcurrentRuns),
    nodeCapacityMode: capacityModeContext(read, contextKeys.nodeCapacityMode),
    cors: corsContext(read),
    alarmOverrides: alarmOverridesContext(read),
    alerts: alertContext(read),
    federationMtls: federationMtlsContext(read),
    federationClientCertSecretArn: secretArnContext(read, contextKeys.federationClientCertSecretArn),
  };
}
