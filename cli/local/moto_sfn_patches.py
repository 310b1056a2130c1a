"""Step Functions callback tasks behaving as AgentOS relies on AWS Step Functions to behave (moto 5.2.1).

The long-run state machine sends each step to SQS with a task token (`sqs:sendMessage.waitForTaskToken`),
retries it on failure or heartbeat timeout, and is stopped when its run is canceled. moto's execution
engine gets two of these wrong:

1. A retried callback task keeps its first attempt's task token, and with it the callback endpoint
   that already holds the first attempt's outcome: the retry's first heartbeat then returns that stale
   outcome (a failure fails the retry at once), and a late answer for the old attempt settles the new
   one. AWS gives every attempt a new token. Here each retry attempt mints a new token (and endpoint)
   before its parameters, which read `$$.Task.Token`, are evaluated.
2. StopExecution leaves the execution RUNNING until a waiting callback task gives up (its heartbeat
   or timeout), and that task's timeout then overwrites the stop: the execution ends FAILED with
   States.Timeout instead of ABORTED. AWS aborts at once. Here a stop wakes the callback tasks that
   wait, the execution is ABORTED at once, and a stopped program keeps its stopped state.

Imported by moto_serialized_server.py after the pinned version check.
"""

from moto.stepfunctions.parser.api import ExecutionStatus
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
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
    state = env.states.context_object.context_object_data.get("State", {})
    if waits_for_token and state.get("RetryCount", 0) > 0:
        env.callback_pool_manager.add(env.states.context_object.update_task_token())
    return _original_evaluate_with_timeout(self, env)


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
