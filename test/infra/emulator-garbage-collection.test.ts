import { describe, expect, it } from 'vitest';
import { runLauncherScript } from '../support/launcher-script.ts';

/**
 * The launcher freezes what survived a full collection and releases it for a rescan once a minute
 * (cli/local/moto_serialized_server.py, point 17). Run by the emulator's Python with the launcher
 * imported (its patches applied, its server not started), on a clock the script moves by hand; it
 * prints what it saw as JSON.
 */
const script = String.raw`
import gc, json, sys, threading, weakref
sys.path.insert(0, sys.argv[1])
import moto_serialized_server as launcher

# Nothing else runs: no other thread allocates or collects while the script moves the clock.
assert threading.active_count() == 1
# Every request the server handles goes through the policy.
assert launcher.WSGIRequestHandler.run_wsgi is launcher._run_wsgi_after_settling

class Node:
    pass

now = [1000.0]
generations = launcher._Generations(clock=lambda: now[0], rescan_seconds=60.0)
gc.callbacks.remove(launcher._generations.collected)
gc.callbacks.append(generations.collected)
gc.unfreeze()
seen = {}

# A cycle that is alive through a full collection, then frozen by the next request.
cycle = Node()
cycle.me = cycle
alive = weakref.ref(cycle)
gc.collect()
seen["frozenBeforeRequest"] = gc.get_freeze_count()
generations.before_request()
seen["frozenAfterRequest"] = gc.get_freeze_count()
generations.before_request()
seen["frozenAfterSecondRequest"] = gc.get_freeze_count()

# Garbage now, but frozen: full collections do not scan it until the rescan is due.
del cycle
gc.collect()
generations.before_request()
now[0] += 59.0
generations.before_request()
gc.collect()
seen["reclaimedBeforeRescan"] = alive() is None

# The rescan is due: the next request releases everything, and the next full collection reclaims it.
now[0] += 1.0
generations.before_request()
seen["frozenAfterRelease"] = gc.get_freeze_count()
gc.collect()
seen["reclaimedAfterRescan"] = alive() is None
print(json.dumps(seen))
`;

describe('the emulator launcher', () => {
  it('freezes what survived a full collection, and reclaims a frozen cycle once the rescan is due', () => {
    const seen = runLauncherScript<Record<string, number | boolean>>(script);
    expect(seen).toMatchObject({
      frozenBeforeRequest: 0,
      reclaimedBeforeRescan: false,
      frozenAfterRelease: 0,
      reclaimedAfterRescan: true,
    });
    expect(seen['frozenAfterRequest']).toBeGreaterThan(0);
    // A second request with no full collection in between freezes nothing more.
    expect(seen['frozenAfterSecondRequest']).toBe(seen['frozenAfterRequest']);
  });
});
