import { describe, expect, it } from 'vitest';
import { alertNotifierConfigFromEnv } from '../../functions/alert-notifier/composition/alert-notifier-config.ts';
import { ConfigurationError } from '../../functions/shared/errors/agentos-error.ts';

const base = {
  AGENTOS_TABLE_NAME: 'agentos-main',
  AGENTOS_NODE_ID: 'main',
  AGENTOS_ALERT_SENDER: 'alerts@example.com',
  AGENTOS_ALERT_RECIPIENTS: 'ops@example.com, oncall@example.com',
};

describe('alertNotifierConfigFromEnv', () => {
  it('returns SESv2 mode, the recipients and the default window when only the required variables are set', () => {
    expect(alertNotifierConfigFromEnv(base)).toMatchObject({
      stage: 'main',
      recipients: ['ops@example.com', 'oncall@example.com'],
      windowMs: 3_600_000,
      transport: { kind: 'ses' },
      maxAttempts: 3,
    });
  });

  it('returns SMTP mode with the relay and the credentials secret by ARN', () => {
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:agentos/main/alerts/smtp-AbCdEf';
    expect(
      alertNotifierConfigFromEnv({
        ...base,
        AGENTOS_ALERT_TRANSPORT: 'smtp',
        AGENTOS_ALERT_SMTP_HOST: 'email-smtp.us-east-1.amazonaws.com',
        AGENTOS_ALERT_SMTP_PORT: '465',
        AGENTOS_ALERT_SMTP_SECURE: 'true',
        AGENTOS_ALERT_SMTP_SECRET_ARN: arn,
      }).transport,
    ).toEqual({
      kind: 'smtp',
      host: 'email-smtp.us-east-1.amazonaws.com',
      port: 465,
      secure: true,
      secretArn: arn,
    });
  });

  it('throws naming the variable when SMTP mode has no host or a recipient is not an address', () => {
    expect(() => alertNotifierConfigFromEnv({ ...base, AGENTOS_ALERT_TRANSPORT: 'smtp' })).toThrow(
      /AGENTOS_ALERT_SMTP_HOST/,
    );
    expect(() => alertNotifierConfigFromEnv({ ...base, AGENTOS_ALERT_RECIPIENTS: 'ops' })).toThrow(
      ConfigurationError,
    );
  });
});
