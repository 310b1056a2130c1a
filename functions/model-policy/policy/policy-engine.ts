import type { ChatMessage } from '../../shared/contracts/chat.ts';
import type { PolicyOutcome } from '../../shared/contracts/model-invocation.ts';
import { redactionKinds } from '../schemas/tenant-policy.ts';
import type { RedactionKind, TenantModelPolicy } from '../schemas/tenant-policy.ts';
import { firstMatchingDenyRule } from './deny-rules.ts';
import { isEntitled } from './entitlements.ts';
import { redactMessages } from './message-redaction.ts';

/** What the policy is asked about. */
export type PolicySubject = {
  policy: TenantModelPolicy;
  principalId: string;
  /** The model ref as requested (a concrete model or a tier). */
  modelRef: string;
  /** The models the ref resolves to, in fallback order. */
  candidates: readonly string[];
  messages: readonly ChatMessage[];
  /** Output tokens asked for, if any. */
  maxTokens: number | undefined;
};

/** Why a call is denied; `rule_id` names the deny rule, or `entitlements`. */
export type PolicyDenial = { message: string; ruleId: string };

/** The policy's verdict. */
export type PolicyEvaluation =
  | {
      allowed: true;
      /** The candidates the tenant is entitled to, in order. */
      chain: string[];
      /** The messages as the model may see them (redacted). */
      messages: ChatMessage[];
      /** Output tokens after the policy's cap (budgets may lower it further). */
      maxTokens: number;
      outcome: PolicyOutcome;
    }
  | { allowed: false; denial: PolicyDenial; outcome: PolicyOutcome };

const kindDescriptions: Record<RedactionKind, string> = {
  email: 'e-mail addresses',
  phone: 'phone numbers',
  payment_card: 'payment card numbers',
  openai_key: 'OpenAI-style API keys',
  aws_access_key: 'AWS access key ids',
  aws_secret_key: 'AWS secret access keys',
  github_token: 'GitHub tokens',
  slack_token: 'Slack tokens',
  bearer_token: 'bearer tokens',
};

/** The redaction kinds a policy enables. */
export function redactionKindsOf(policy: TenantModelPolicy): ReadonlySet<RedactionKind> {
  return new Set(policy.redaction.kinds ?? redactionKinds);
}

/** The rule entries that report redactions in a decision. */
export function redactionRules(
  counts: Partial<Record<RedactionKind, number>>,
  where: 'input' | 'output',
): PolicyOutcome['rules'] {
  return (Object.keys(counts) as RedactionKind[]).map((kind) => ({
    id: `redact.${where}.${kind}`,
    effect: 'redact' as const,
    reason: `${kindDescriptions[kind]} are redacted from model ${where}`,
  }));
}

function deny(message: string, ruleId: string, reason: string): PolicyEvaluation {
  return {
    allowed: false,
    denial: { message, ruleId },
    outcome: { decision: 'deny', redactions: {}, rules: [{ id: ruleId, effect: 'deny', reason }] },
  };
}

/**
 * Applies a tenant's policy to a call (HLD §5.2): entitlements of the requested ref and of each
 * fallback, deny rules, input redaction and the max-tokens cap. Pure: budgets are decided later.
 */
export function evaluatePolicy(subject: PolicySubject): PolicyEvaluation {
  const { policy } = subject;
  if (!isEntitled(policy.entitlements, subject.modelRef)) {
    const reason = `model "${subject.modelRef}" is not enabled for this tenant`;
    return deny(`The ${reason}`, 'entitlements', reason);
  }
  const chain = subject.candidates.filter((candidate) => isEntitled(policy.entitlements, candidate));
  if (chain.length === 0) {
    const reason = `no model behind "${subject.modelRef}" is enabled for this tenant`;
    return deny(`The request was denied: ${reason}`, 'entitlements', reason);
  }
  const rule = firstMatchingDenyRule(policy.deny_rules, {
    modelRef: subject.modelRef,
    principalId: subject.principalId,
    messages: subject.messages,
  });
  if (rule !== undefined) {
    return deny(`The request was denied by policy rule "${rule.id}": ${rule.reason}`, rule.id, rule.reason);
  }
  const redacted = policy.redaction.input
    ? redactMessages(subject.messages, redactionKindsOf(policy))
    : { messages: [...subject.messages], counts: {} };
  const redactions = Object.fromEntries(Object.entries(redacted.counts)) as Record<string, number>;
  const maxTokens = Math.min(
    subject.maxTokens ?? policy.default_max_tokens ?? policy.max_tokens,
    policy.max_tokens,
  );
  return {
    allowed: true,
    chain,
    messages: redacted.messages,
    maxTokens,
    outcome: {
      decision: Object.keys(redactions).length > 0 ? 'redact' : 'allow',
      redactions,
      rules: redactionRules(redacted.counts, 'input'),
      max_tokens_applied: maxTokens,
    },
  };
}
