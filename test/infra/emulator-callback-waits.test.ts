import { describe, expect, it } from 'vitest';
import { runLauncherScript } from '../support/launcher-script.ts';

/**
 * A Step Functions callback task sends its message before its wait sets up the heartbeat that wakes
 * it; an answer or a heartbeat from a worker fast enough to land in between must not be lost
 * (cli/local/moto_sfn_patches.py, item 3). Run by the emulator's Python with the launcher imported
 * (its patches applied, its server not started), against moto's own callback endpoints and wait; it
 * prints what it saw as JSON.
 */
const script = String.raw`
import json, sys, threading
sys.path.insert(0, sys.argv[1])
import moto_serialized_server as launcher
from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackOutcomeSuccess, CallbackPoolManager
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)

class RunningExecution:
    def is_running(self):
        return True

def wait(endpoint, heartbeat_seconds):
    """What a callback task does once its message is sent: set up its heartbeat, then wait."""
    heartbeat = endpoint.setup_heartbeat_endpoint(heartbeat_seconds=heartbeat_seconds)
    outcome = StateTaskServiceCallback._wait_for_task_token_heartbeat(None, RunningExecution(), endpoint, heartbeat)
    return [type(outcome).__name__, getattr(outcome, "output", None)]

pool = CallbackPoolManager(activity_store={})
seen = {}

endpoint = pool.add("answered-early")
seen["earlyAnswerTaken"] = pool.notify("answered-early", CallbackOutcomeSuccess("answered-early", '{"kind":"end"}'))
seen["waitAfterEarlyAnswer"] = wait(endpoint, 1)

endpoint = pool.add("heartbeat-early")
# What a callback task with a heartbeat marks once its message is out (the launcher's attempt).
endpoint.awaits_heartbeat_setup = True
seen["earlyHeartbeatTaken"] = pool.heartbeat("heartbeat-early")
# The heartbeat clock starts with the wait: with no answer, the wait still times out on its heartbeat.
seen["waitAfterEarlyHeartbeat"] = wait(endpoint, 1)

# A task with no heartbeat never sets one up: its heartbeats are answered as moto answers them.
pool.add("no-heartbeat")
seen["heartbeatWithoutOne"] = pool.heartbeat("no-heartbeat")

# An answer racing the wait's set-up, from another thread, as the server's request threads send them.
outcomes = []
for attempt in range(200):
    token = "raced-%d" % attempt
    endpoint = pool.add(token)
    answer = threading.Thread(target=pool.notify, args=(token, CallbackOutcomeSuccess(token, '"%d"' % attempt)))
    answer.start()
    outcomes.append(wait(endpoint, 0.5))
    answer.join()
seen["racedOutcomes"] = sorted({outcome[0] for outcome in outcomes})
seen["racedOutputsInOrder"] = [outcome[1] for outcome in outcomes] == ['"%d"' % attempt for attempt in range(200)]
print(json.dumps(seen))
`;

describe('the emulator’s Step Functions callback tasks', () => {
  it('returns an answer or takes a heartbeat that lands before the task’s wait has begun', () => {
    expect(runLauncherScript<Record<string, unknown>>(script)).toEqual({
      earlyAnswerTaken: true,
      waitAfterEarlyAnswer: ['CallbackOutcomeSuccess', '{"kind":"end"}'],
      earlyHeartbeatTaken: true,
      waitAfterEarlyHeartbeat: ['HeartbeatTimedOut', null],
      heartbeatWithoutOne: false,
      racedOutcomes: ['CallbackOutcomeSuccess'],
      racedOutputsInOrder: true,
    });
  });
});
