import type { Amount, BudgetCounters, BudgetLine } from '../ports/ledger-port.ts';
import type { TokenPrices } from '../metering/price-table.ts';

/** The worst case a call could consume, before budgets have their say. */
export type WorstCase = {
  /** Upper bound of the prompt tokens (see `estimatePromptTokens`). */
  promptTokens: number;
  /** Output tokens the call asks for, after policy and model caps; 0 for a call without output (embeddings). */
  maxOutputTokens: number;
  /** The highest prices among the models the call may end up on. */
  prices: TokenPrices;
};

/**
 * How much a call may reserve. `outputTokens` below {@link leastOutputTokens} means no budget can
 * cover the call.
 */
export type ReservationSize = { outputTokens: number; amount: Amount; limitedBy: BudgetLine | undefined };

/**
 * The fewest output tokens a call can make do with: one for a call that produces output, none for
 * one that asks for none (embeddings meter input tokens only), which still needs its prompt to fit.
 */
export function leastOutputTokens(worst: WorstCase): number {
  return Math.min(1, worst.maxOutputTokens);
}

/** The counters of a budget nothing was spent or reserved on yet. */
export const noCounters: BudgetCounters = {
  spentTokens: 0,
  spentNano: 0,
  reservedTokens: 0,
  reservedNano: 0,
};

/** The amount a call with `outputTokens` output tokens reserves. */
export function reservationAmount(worst: WorstCase, outputTokens: number): Amount {
  return {
    tokens: worst.promptTokens + outputTokens,
    nano: worst.promptTokens * worst.prices.inputNano + outputTokens * worst.prices.outputNano,
  };
}

/** The output tokens a line's remaining room allows after the prompt. */
function outputRoom(line: BudgetLine, counters: BudgetCounters, worst: WorstCase): number {
  let room = Number.POSITIVE_INFINITY;
  if (line.limitTokens !== undefined) {
    room = Math.min(
      room,
      line.limitTokens - counters.spentTokens - counters.reservedTokens - worst.promptTokens,
    );
  }
  if (line.limitNano !== undefined) {
    const left =
      line.limitNano -
      counters.spentNano -
      counters.reservedNano -
      worst.promptTokens * worst.prices.inputNano;
    if (left < 0) room = Math.min(room, -1);
    else if (worst.prices.outputNano > 0) room = Math.min(room, Math.floor(left / worst.prices.outputNano));
  }
  return room;
}

/**
 * Sizes a reservation to what remains: the requested output tokens, lowered so that the prompt and
 * the output fit every line's token and cost limits (HLD §5.2: budget and max tokens enforced at invocation).
 */
export function sizeReservation(
  worst: WorstCase,
  lines: readonly BudgetLine[],
  counters: readonly BudgetCounters[],
): ReservationSize {
  let outputTokens = worst.maxOutputTokens;
  let limitedBy: BudgetLine | undefined;
  lines.forEach((line, index) => {
    const room = outputRoom(line, counters[index] ?? noCounters, worst);
    if (room < outputTokens) {
      outputTokens = room;
      limitedBy = line;
    }
  });
  return { outputTokens, amount: reservationAmount(worst, Math.max(outputTokens, 0)), limitedBy };
}
