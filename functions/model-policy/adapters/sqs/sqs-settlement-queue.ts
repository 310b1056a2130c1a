import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { DependencyUnavailableError } from '../../../shared/errors/agentos-error.ts';
import type { CallSettlement } from '../../ports/ledger-port.ts';
import type { SettlementQueuePort } from '../../ports/settlement-queue-port.ts';
import { encodeSettlementMessage } from './settlement-message.ts';

/**
 * SettlementQueuePort on an SQS standard queue (HLD §5.3). The client's own timeouts and bounded
 * retries apply to the send; a message sent twice is written once by the ledger.
 */
export class SqsSettlementQueue implements SettlementQueuePort {
  readonly #sqs: SQSClient;
  readonly #queueUrl: string;

  constructor(sqs: SQSClient, queueUrl: string) {
    this.#sqs = sqs;
    this.#queueUrl = queueUrl;
  }

  async enqueue(tenantId: string, settlement: CallSettlement): Promise<void> {
    try {
      await this.#sqs.send(
        new SendMessageCommand({
          QueueUrl: this.#queueUrl,
          MessageBody: encodeSettlementMessage(tenantId, settlement),
          MessageAttributes: { tenant_id: { DataType: 'String', StringValue: tenantId } },
        }),
      );
    } catch (cause) {
      throw new DependencyUnavailableError('The settlement queue is unavailable', { cause });
    }
  }
}
