import { contentText } from '../../shared/contracts/chat.ts';
import type { ChatMessage } from '../../shared/contracts/chat.ts';
import type { DenyRule } from '../schemas/tenant-policy.ts';
import { compileDenyPattern } from './deny-pattern.ts';
import type { DenyPattern } from './deny-pattern.ts';
import { anyGlobMatches } from './model-glob.ts';

/** What a deny rule is tested against. */
export type DenyRuleSubject = { modelRef: string; principalId: string; messages: readonly ChatMessage[] };

function messageTexts(messages: readonly ChatMessage[]): string[] {
  return messages.map((message) => {
    const parts = [contentText(message.content)];
    if (message.role === 'assistant') {
      for (const call of message.tool_calls ?? []) parts.push(call.function.arguments);
    }
    return parts.join('\n');
  });
}

/**
 * Each rule's compiled content patterns, kept as long as the rule object lives: policies are cached
 * per process, so a rule is compiled once per policy load, not once per call.
 */
const compiledContent = new WeakMap<DenyRule, DenyPattern[]>();

function contentPatterns(rule: DenyRule, sources: readonly string[]): DenyPattern[] {
  let patterns = compiledContent.get(rule);
  if (patterns === undefined) {
    patterns = sources.map(compileDenyPattern);
    compiledContent.set(rule, patterns);
  }
  return patterns;
}

/**
 * The first rule that matches: every condition a rule names must hold (the requested model matches
 * one of `models`, the principal one of `principals`, some message one of the `content` patterns).
 */
export function firstMatchingDenyRule(
  rules: readonly DenyRule[],
  subject: DenyRuleSubject,
): DenyRule | undefined {
  let texts: string[] | undefined;
  return rules.find((rule) => {
    if (rule.models !== undefined && !anyGlobMatches(rule.models, subject.modelRef)) return false;
    if (rule.principals !== undefined && !anyGlobMatches(rule.principals, subject.principalId)) return false;
    if (rule.content !== undefined) {
      texts ??= messageTexts(subject.messages);
      const patterns = contentPatterns(rule, rule.content);
      if (!patterns.some((pattern) => texts!.some((text) => pattern.test(text)))) return false;
    }
    return true;
  });
}
