import type { AgentDefinition } from '../schemas/agent.ts';
import type { RunEvent } from '../schemas/event.ts';
import { terminalEventTypes } from '../schemas/event.ts';
import type { Run, RunStatus } from '../schemas/run.ts';

/**
 * The A2A protocol's wire objects (A2A v0.3 JSON-RPC binding, as `@a2a-js/sdk`'s v0.3 transports
 * speak it), built from runs and run events. A task is a run: the task id is the run id, and the
 * run's metadata remembers the A2A context id and the message that started it.
 */

/** The A2A protocol version of the agent cards and the JSON-RPC binding served here. */
export const a2aProtocolVersion = '0.3.0';

/** Run metadata keys that carry the A2A side of a run. */
export const a2aMetadataKeys = { contextId: 'a2a.context_id', messageId: 'a2a.message_id' } as const;

/** An A2A task state. */
export type A2aTaskState = 'submitted' | 'working' | 'completed' | 'failed' | 'canceled';

export type A2aTextPart = { kind: 'text'; text: string };

export type A2aMessage = {
  kind: 'message';
  messageId: string;
  role: 'user' | 'agent';
  parts: A2aTextPart[];
  taskId?: string;
  contextId?: string;
};

export type A2aTaskStatus = { state: A2aTaskState; message?: A2aMessage; timestamp?: string };

export type A2aTask = {
  kind: 'task';
  id: string;
  contextId: string;
  status: A2aTaskStatus;
  artifacts: { artifactId: string; name: string; parts: A2aTextPart[] }[];
  history: A2aMessage[];
  metadata: Record<string, unknown>;
};

export type A2aStatusUpdate = {
  kind: 'status-update';
  taskId: string;
  contextId: string;
  status: A2aTaskStatus;
  final: boolean;
  metadata: { event_type: string; sequence: number; event_id: string };
};

const stateOfStatus: Record<RunStatus, A2aTaskState> = {
  queued: 'submitted',
  running: 'working',
  completed: 'completed',
  failed: 'failed',
  canceled: 'canceled',
};

/** The task state of a run status. */
export function taskState(status: RunStatus): A2aTaskState {
  return stateOfStatus[status];
}

/** The task state a run event leaves the task in: queued is submitted, terminal events end it, the rest is work. */
export function eventState(event: RunEvent): A2aTaskState {
  switch (event.type) {
    case 'run.queued':
      return 'submitted';
    case 'run.completed':
      return 'completed';
    case 'run.failed':
      return 'failed';
    case 'run.canceled':
      return 'canceled';
    default:
      return 'working';
  }
}

/** The context id of a run: the one its message supplied, else the run id. */
export function contextIdOf(run: Pick<Run, 'run_id' | 'metadata'>): string {
  return run.metadata[a2aMetadataKeys.contextId] ?? run.run_id;
}

function agentMessage(taskId: string, contextId: string, id: string, text: string): A2aMessage {
  return {
    kind: 'message',
    messageId: id,
    role: 'agent',
    parts: [{ kind: 'text', text }],
    taskId,
    contextId,
  };
}

function userText(run: Run): string {
  const user = run.input.messages.findLast((message) => message.role === 'user');
  if (user === undefined) return '';
  if (typeof user.content === 'string') return user.content;
  return user.content.map((part) => (part.type === 'text' ? part.text : '')).join('');
}

/**
 * A run as an A2A task: its state, the agent's answer as the `answer` artifact and as the final
 * status message, and the failure's message when it failed.
 */
export function runToTask(run: Run): A2aTask {
  const contextId = contextIdOf(run);
  const answer = run.output?.message.content ?? null;
  const status: A2aTaskStatus = { state: taskState(run.status), timestamp: run.updated_at };
  if (answer !== null) status.message = agentMessage(run.run_id, contextId, `${run.run_id}-answer`, answer);
  if (run.error !== null) {
    status.message = agentMessage(run.run_id, contextId, `${run.run_id}-error`, run.error.message);
  }
  return {
    kind: 'task',
    id: run.run_id,
    contextId,
    status,
    artifacts:
      answer === null
        ? []
        : [{ artifactId: 'answer', name: 'answer', parts: [{ kind: 'text', text: answer }] }],
    history: [
      {
        kind: 'message',
        messageId: run.metadata[a2aMetadataKeys.messageId] ?? `${run.run_id}-input`,
        role: 'user',
        parts: [{ kind: 'text', text: userText(run) }],
        taskId: run.run_id,
        contextId,
      },
    ],
    metadata: { agent_id: run.agent_id, agent_version: run.agent_version },
  };
}

/**
 * A run event as an A2A status update. Every event becomes one update, so a client sees each step;
 * the terminal event's update is `final` and carries the answer or the failure as its message.
 */
export function eventToStatusUpdate(event: RunEvent, contextId: string): A2aStatusUpdate {
  const status: A2aTaskStatus = { state: eventState(event), timestamp: event.time };
  if (event.type === 'run.completed') {
    const content = (event.data as { output: { message: { content: string | null } } }).output.message
      .content;
    if (content !== null) status.message = agentMessage(event.run_id, contextId, event.event_id, content);
  } else if (event.type === 'run.failed') {
    const { error } = event.data as { error: { message: string } };
    status.message = agentMessage(event.run_id, contextId, event.event_id, error.message);
  }
  return {
    kind: 'status-update',
    taskId: event.run_id,
    contextId,
    status,
    final: terminalEventTypes.has(event.type),
    metadata: { event_type: event.type, sequence: event.sequence, event_id: event.event_id },
  };
}

/** The agent card of an agent, served at `{base}/.well-known/agent-card.json`. */
export function agentCard(agent: AgentDefinition, endpoint: string) {
  return {
    protocolVersion: a2aProtocolVersion,
    name: agent.name,
    description: agent.description === '' ? `The AgentOS agent ${agent.agent_id}.` : agent.description,
    url: endpoint,
    preferredTransport: 'JSONRPC',
    version: String(agent.version),
    capabilities: { streaming: true, pushNotifications: false, stateTransitionHistory: false },
    defaultInputModes: ['text/plain'],
    defaultOutputModes: ['text/plain'],
    skills: [
      {
        id: agent.agent_id,
        name: agent.name,
        description: agent.description === '' ? agent.name : agent.description,
        tags: ['agentos'],
        inputModes: ['text/plain'],
        outputModes: ['text/plain'],
      },
    ],
    securitySchemes: {
      bearer: {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description: 'An AgentOS token of the tenant that owns the agent, with runs:read and runs:write.',
      },
    },
    security: [{ bearer: [] }],
  };
}
