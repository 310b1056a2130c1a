import { describe, expect, it } from 'vitest';
import {
  installLocalTenantTop,
  LocalTenantTop,
  observeTenantLogEvent,
  SpaceSaving,
  tenantObservingLog,
  WindowedTopN,
} from '../../../functions/shared/observability/local-tenant-top.ts';
import { ManualClock } from '../../support/manual-clock.ts';

describe('SpaceSaving', () => {
  it('returns exact weights, heaviest first, while the keys fit its counters', () => {
    const summary = new SpaceSaving(3);
    for (const key of ['a', 'b', 'a', 'c', 'a', 'b']) summary.add(key);
    expect(summary.entries()).toEqual([
      { key: 'a', weight: 3, overcount: 0 },
      { key: 'b', weight: 2, overcount: 0 },
      { key: 'c', weight: 1, overcount: 0 },
    ]);
  });

  it('returns never more keys than its capacity, and keeps a heavy key among a flood of distinct ones', () => {
    const summary = new SpaceSaving(10);
    for (let i = 0; i < 10_000; i += 1) {
      summary.add(`noise-${i}`);
      if (i % 4 === 0) summary.add('heavy');
    }
    expect(summary.size).toBe(10);
    const [first] = summary.entries();
    expect(first?.key).toBe('heavy');
    // An estimate is never below the truth, and at most its overcount above it.
    expect(first!.weight).toBeGreaterThanOrEqual(2_500);
    expect(first!.weight - first!.overcount).toBeLessThanOrEqual(2_500);
  });

  it('returns weighted sums for weighted adds, ignoring weights that are not positive', () => {
    const summary = new SpaceSaving(2);
    summary.add('acme', 1_500);
    summary.add('globex', 200);
    summary.add('acme', 0);
    summary.add('acme', -5);
    summary.add('initech', 300);
    expect(summary.entries()).toEqual([
      { key: 'acme', weight: 1_500, overcount: 0 },
      { key: 'initech', weight: 500, overcount: 200 },
    ]);
  });
});

describe('WindowedTopN', () => {
  it('returns only what the last window saw, dropping slots as the clock moves past them', () => {
    const clock = new ManualClock(0);
    const top = new WindowedTopN({ clock, windowMs: 60_000, slots: 3, capacity: 5 });
    top.add('old', 10);
    clock.advance(20_000);
    top.add('mid', 5);
    clock.advance(20_000);
    top.add('new', 1);
    expect(top.top(10).map((hit) => hit.key)).toEqual(['old', 'mid', 'new']);
    // At 60 s the first slot still overlaps the window; it goes once it ended before the window began.
    clock.advance(20_000);
    expect(top.top(10).map((hit) => hit.key)).toEqual(['old', 'mid', 'new']);
    clock.advance(20_000);
    expect(top.top(10).map((hit) => hit.key)).toEqual(['mid', 'new']);
    clock.advance(40_000);
    expect(top.top(10)).toEqual([]);
  });

  it('returns at least the whole window of a steady key at any moment', () => {
    const clock = new ManualClock(0);
    const top = new WindowedTopN({ clock, windowMs: 900_000, slots: 3, capacity: 5 });
    const afterFirstWindow: number[] = [];
    for (let second = 0; second < 1_800; second += 1) {
      top.add('steady', 1);
      clock.advance(1_000);
      if (second >= 899) afterFirstWindow.push(top.top(1)[0]!.weight);
    }
    // Once a whole window has passed, the sum never drops below the window's 900.
    expect(Math.min(...afterFirstWindow)).toBeGreaterThanOrEqual(900);
  });

  it('returns the sum of a key over the live slots, cut to the n heaviest', () => {
    const clock = new ManualClock(0);
    const top = new WindowedTopN({ clock, windowMs: 30_000, slots: 3, capacity: 5 });
    for (let slot = 0; slot < 3; slot += 1) {
      top.add('acme', 2);
      top.add('globex', 1);
      top.add(`once-${slot}`, 1);
      if (slot < 2) clock.advance(10_000);
    }
    expect(top.top(2)).toEqual([
      { key: 'acme', weight: 6, overcount: 0 },
      { key: 'globex', weight: 3, overcount: 0 },
    ]);
  });
});

describe('LocalTenantTop', () => {
  it('returns top tenants by requests, server errors, latency and spend from the services’ log events', () => {
    const clock = new ManualClock(0);
    const top = new LocalTenantTop({ clock, topN: 2 });
    const served = (tenant: string | undefined, status: number, ms: number) =>
      top.observe('request served', {
        ...(tenant === undefined ? {} : { tenant_id: tenant }),
        status,
        duration_ms: ms,
      });
    served('acme', 200, 10);
    served('acme', 200, 10);
    served('acme', 502, 10);
    served('globex', 500, 400);
    served('initech', 200, 1);
    served(undefined, 401, 1);
    top.observe('model call settled', { tenant_id: 'globex', cost_nano_usd: 7_000, tokens: 10 });
    top.observe('model call settled', { tenant_id: 'acme', cost_nano_usd: 3_000, tokens: 5 });
    top.observe('request rejected', { tenant_id: 'initech', status: 429 });

    const views = Object.fromEntries(top.views().map((view) => [view.ranking, view.top]));
    const ids = (ranking: string) => views[ranking]?.map((row) => [row.tenant_id, row.value]);
    expect(ids('tenant-requests')).toEqual([
      ['acme', 3],
      ['globex', 1],
    ]);
    expect(ids('tenant-server-errors')).toEqual([
      ['acme', 1],
      ['globex', 1],
    ]);
    expect(ids('tenant-latency')).toEqual([
      ['globex', 400],
      ['acme', 30],
    ]);
    expect(ids('tenant-model-spend')).toEqual([
      ['globex', 7_000],
      ['acme', 3_000],
    ]);
  });

  it('returns empty rankings once the window has passed', () => {
    const clock = new ManualClock(0);
    const top = new LocalTenantTop({ clock, windowMs: 60_000, slots: 2 });
    top.observe('request served', { tenant_id: 'acme', status: 200, duration_ms: 5 });
    clock.advance(120_000);
    expect(top.views().every((view) => view.top.length === 0)).toBe(true);
  });
});

describe('the installed tenant pre-aggregation', () => {
  it('returns the log events written after install counted, and nothing once uninstalled', () => {
    const clock = new ManualClock(0);
    const top = new LocalTenantTop({ clock });
    const written: string[] = [];
    const log = tenantObservingLog({
      info: (message) => written.push(message),
      warn: () => undefined,
      error: () => undefined,
    });
    observeTenantLogEvent('request served', { tenant_id: 'before', status: 200, duration_ms: 1 });
    installLocalTenantTop(top);
    try {
      log.info('model call settled', { tenant_id: 'acme', cost_nano_usd: 42 });
      observeTenantLogEvent('request served', { tenant_id: 'acme', status: 200, duration_ms: 3 });
    } finally {
      installLocalTenantTop(undefined);
    }
    observeTenantLogEvent('request served', { tenant_id: 'after', status: 200, duration_ms: 1 });
    expect(written).toEqual(['model call settled']);
    const views = Object.fromEntries(top.views().map((view) => [view.ranking, view.top]));
    expect(views['tenant-requests']).toEqual([{ tenant_id: 'acme', value: 1, overcount: 0 }]);
    expect(views['tenant-model-spend']).toEqual([{ tenant_id: 'acme', value: 42, overcount: 0 }]);
  });
});
