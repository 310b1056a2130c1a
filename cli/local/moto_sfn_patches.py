"""Step Functions callback tasks behaving as AgentOS relies on AWS Step Functions to behave (moto 5.2.1).

The long-run state machine sends each step to SQS with a task token (`sqs:sendMessage.waitForTaskToken`),
retries it on failure or heartbeat timeout, and is stopped when its run is canceled. moto's execution
engine gets three of these wrong:

1. A retried callback task keeps its first attempt's task token, and with it the callback endpoint
   that already holds the first attempt's outcome: the retry's first heartbeat then returns that stale
   outcome (a failure fails the retry at once), and a late answer for the old attempt settles the new
   one. AWS gives every attempt a new token. Here each retry attempt mints a new token (and endpoint)
   before its parameters, which read `$$.Task.Token`, are evaluated.
2. StopExecution leaves the execution RUNNING until a waiting callback task gives up (its heartbeat
   or timeout), and that task's timeout then overwrites the stop: the execution ends FAILED with
   States.Timeout instead of ABORTED. AWS aborts at once. Here a stop wakes the callback tasks that
   wait, the execution is ABORTED at once, and a stopped program keeps its stopped state.
3. A task token takes every answer sent to it, and the last one sent wins: each answer overwrites the
   outcome the waiting task reads once it wakes, so an answer sent just after the first (a duplicate
   delivery's, say) can replace it before the execution reads it, and the execution goes on with the
   wrong continuation or fails. AWS takes one answer per task and refuses every later answer or
   heartbeat. Here the first answer is the one the task reads. Once a task has its answer, or its
   attempt has ended (timed out, failed, stopped), a later answer or heartbeat for its token is
   refused with TaskTimedOut, as AWS refuses it, while its execution runs; once the execution has
   ended, moto answers as before (InvalidToken, or TaskTimedOut for a failure).
   moto also sends the task's message before its wait sets up the heartbeat that wakes it: an answer
   that lands in between (a fast worker's) sets the outcome with nothing to wake, the wait sleeps
   through it and the step times out on its heartbeat, and a heartbeat that lands in between is
   refused with InvalidToken. Here a wait set up after its task's answer (or its stop) wakes at once,
   and a heartbeat for a callback task with a heartbeat that has not begun to wait is taken, as AWS
   takes it (it changes nothing: the heartbeat clock starts with the wait); other tasks' heartbeats
   are answered as before.

Imported by moto_serialized_server.py after the pinned version check.
"""

import hashlib
import inspect
import threading

from moto.stepfunctions.parser.api import ExecutionStatus, TaskTimedOut
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.eval.callback.callback import (
    CallbackEndpoint,
    CallbackPoolManager,
    HeartbeatEndpoint,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
from moto.stepfunctions.parser.backend.execution import Execution

# ------------------------------------------------------------------ 1. a new task token per attempt
_original_evaluate_with_timeout = StateTaskServiceCallback._evaluate_with_timeout


def _evaluate_with_timeout(self, env):
    waits_for_token = (
        self._is_integration_pattern()
        and self.resource.condition == ResourceCondition.WaitForTaskToken
    )
    if not waits_for_token:
        return _original_evaluate_with_timeout(self, env)
    state = env.states.context_object.context_object_data.get("State", {})
    if state.get("RetryCount", 0) > 0:
        env.callback_pool_manager.add(env.states.context_object.update_task_token())
    token = env.states.context_object.context_object_data.get("Task", {}).get("Token")
    if self.heartbeat:
        # Its message goes out before its wait sets up the heartbeat (item 3): until then a
        # heartbeat for its token is taken.
        endpoint = env.callback_pool_manager.get(token)
        if endpoint is not None:
            endpoint.awaits_heartbeat_setup = True
    try:
        return _original_evaluate_with_timeout(self, env)
    finally:
        # The attempt is over however it ended (item 3): a step timeout leaves its waiter blocked
        # until the next heartbeat, its token still open, so it is closed here.
        endpoint = env.callback_pool_manager.get(token)
        if endpoint is not None:
            endpoint.interrupt_all()


StateTaskServiceCallback._evaluate_with_timeout = _evaluate_with_timeout

# ------------------------------------------------------------------ 2. StopExecution aborts at once
_original_set_error = Environment.set_error
_original_set_timed_out = Environment.set_timed_out


def _set_error(self, error):
    if isinstance(self._program_state, ProgramStopped):
        return
    _original_set_error(self, error)


def _set_timed_out(self):
    if isinstance(self._program_state, ProgramStopped):
        return
    _original_set_timed_out(self)


Environment.set_error = _set_error
Environment.set_timed_out = _set_timed_out

_original_stop = Execution.stop


def _stop(self, stop_date, error, cause):
    _original_stop(self, stop_date, error, cause)
    worker = self.exec_worker
    if worker is None or not isinstance(worker.env.program_state(), ProgramStopped):
        return
    self.exec_status = ExecutionStatus.ABORTED
    self.stop_date = stop_date
    for endpoint in list(worker.env.callback_pool_manager._pool.values()):
        endpoint.interrupt_all()


Execution.stop = _stop

# ------------------------------------------------------------------ 3. one answer per task token
# The digests refuse any other text of the functions replaced or wrapped here, of the waits that
# read the outcome only once woken, or of the task that sends its message before its wait begins.
_CALLBACK_SOURCES_SHA256 = (
    "8a2febb9b274f707",
    "d5b1c5de4a0b4fe9",
    "85d0fa6224f12b37",
    "244536ab931eb3b8",
    "b816a1b1ca234405",
    "bcf8b4650679f830",
    "156c1dac9685af62",
    "2037f07deefe18f0",
    "3c7b61c1202c08b3",
    "3b97ada1d4cb7280",
)
if tuple(
    hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]
    for function in (
        CallbackEndpoint.notify,
        CallbackEndpoint.interrupt_all,
        CallbackEndpoint.wait,
        CallbackPoolManager.notify,
        CallbackPoolManager.heartbeat,
        CallbackEndpoint.setup_heartbeat_endpoint,
        StateTaskServiceCallback._wait_for_task_token_heartbeat,
        HeartbeatEndpoint.clear_and_wait,
        HeartbeatEndpoint.notify,
        StateTaskServiceCallback._eval_integration_pattern,
    )
) != _CALLBACK_SOURCES_SHA256:
    raise SystemExit("moto's callback tasks take answers differently; revisit moto_sfn_patches item 3")

# Answers arrive on the server's request threads, and a task stops waiting on its own: taking an
# answer is a check and a set under a lock, and so is closing the task to answers.
_answering = threading.Lock()


def _task_over():
    # moto's TaskTimedOut names no error type unless given one (it answers `"__type": null`).
    return TaskTimedOut("Task Timed Out: 'Provided task does not exist anymore'", "TaskTimedOut")


def _take_first_answer(self, outcome):
    """Sets the task's outcome unless it has one or has stopped waiting; True when it was set."""
    with _answering:
        # The event is set by the first answer and by interrupt_all once the task stops waiting.
        if self._notify_event.is_set():
            return False
        self._outcome = outcome
        self._notify_event.set()
    if self._heartbeat_endpoint:
        self._heartbeat_endpoint.notify()
    return True


_original_interrupt_all = CallbackEndpoint.interrupt_all
_original_pool_notify = CallbackPoolManager.notify
_original_pool_heartbeat = CallbackPoolManager.heartbeat


def _notify_once(self, callback_id, outcome):
    endpoint = self._pool.get(callback_id, None)
    if endpoint is None or endpoint.consumer_error is not None:
        # moto's own answer: not this execution's token, or a task whose consumer gave up.
        return _original_pool_notify(self, callback_id, outcome)
    if not endpoint.notify(outcome=outcome):
        raise _task_over()
    return True


def _interrupt_all_closing(self):
    with _answering:
        _original_interrupt_all(self)


def _heartbeat_while_waiting(self, callback_id):
    endpoint = self._pool.get(callback_id, None)
    if endpoint is not None and endpoint._notify_event.is_set():
        raise _task_over()
    if endpoint is not None and getattr(endpoint, "awaits_heartbeat_setup", False):
        # The task's message is out but its wait has not begun: the heartbeat clock starts with the
        # wait, so this heartbeat is taken and changes nothing.
        return True
    return _original_pool_heartbeat(self, callback_id)


_original_setup_heartbeat_endpoint = CallbackEndpoint.setup_heartbeat_endpoint


def _setup_heartbeat_awake(self, heartbeat_seconds):
    """Sets up the wait's heartbeat, woken at once when the task already has its answer or is stopped."""
    with _answering:
        heartbeat_endpoint = _original_setup_heartbeat_endpoint(self, heartbeat_seconds)
        self.awaits_heartbeat_setup = False
        # Under the lock, so an answer either sees this endpoint and wakes it, or came before.
        if self._notify_event.is_set():
            heartbeat_endpoint.notify()
    return heartbeat_endpoint


CallbackEndpoint.notify = _take_first_answer
CallbackEndpoint.interrupt_all = _interrupt_all_closing
CallbackPoolManager.notify = _notify_once
CallbackPoolManager.heartbeat = _heartbeat_while_waiting
CallbackEndpoint.setup_heartbeat_endpoint = _setup_heartbeat_awake
