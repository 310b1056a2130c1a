import type { BackendConfig } from '../schemas/model-catalog.ts';

/**
 * Prompt tokens a backend adds to every call that `estimatePromptTokens` cannot see, reserved on top
 * of the estimate so that what a budget holds back covers what the backend will report:
 *
 * - local: none; it reports exactly the estimate.
 * - OpenAI-compatible: the chat template's reply priming and name fields (a handful of tokens).
 * - Bedrock: the model's prompt template and, when tools are sent, the tool-use system prompt the
 *   provider adds (Anthropic documents 260–530 tokens for it, depending on the model).
 *
 * The estimate itself counts bytes, which for most text is several times the real token count;
 * these margins matter for short prompts. Whatever a backend still reports beyond the reservation
 * is metered but never charged past a budget (`budgets/budget-charge.ts`).
 */
export function promptOverheadTokens(kind: BackendConfig['kind'], withTools: boolean): number {
  switch (kind) {
    case 'local':
      return 0;
    case 'openai':
      return 8;
    case 'bedrock':
      return withTools ? 16 + 600 : 16;
  }
}
