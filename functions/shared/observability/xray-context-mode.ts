/**
 * Chooses the X-Ray SDK's context mode before the SDK loads (HLD §9.1). In its default, automatic
 * mode the SDK installs an async hook, with a destroy callback, that runs for every promise and
 * callback the process makes, traced or not: about a seventh of the Model Policy's CPU per call on
 * a local node. Where tracing is off (`POWERTOOLS_TRACE_ENABLED=false`: the local node, tests,
 * benchmarks) the SDK is put in manual mode, which installs no hook; Powertools' tracer then
 * records nothing, as it would anyway. A deployed function traces, so it keeps automatic mode.
 *
 * This module has effects on import only: it must be imported before `@aws-lambda-powertools/tracer`
 * (telemetry.ts imports it first).
 */
if (process.env['POWERTOOLS_TRACE_ENABLED'] === 'false') process.env['AWS_XRAY_MANUAL_MODE'] ??= 'true';
