import type { App } from 'aws-cdk-lib';
import { defaultBundlesDir } from './build/bundle-layout.ts';
import { nodeSettingsFromContext } from './config/node-settings.ts';
import { AgentOsNodeStack } from './stacks/agentos-node-stack.ts';

/** The context key naming where the Lambda bundles are written and taken from (default dist/functions). */
export const bundlesDirContextKey = 'agentos:bundlesDir';

/** Where this app's Lambda bundles live. */
export function bundlesDirOf(app: App): string {
  const configured: unknown = app.node.tryGetContext(bundlesDirContextKey);
  return typeof configured === 'string' && configured !== '' ? configured : defaultBundlesDir;
}

/** The CloudFormation stack name of a node. */
export function nodeStackName(nodeId: string): string {
  return `AgentOS-${nodeId}`;
}

/**
 * Adds a node's stack to `app`, configured from the app's context (see config/node-settings.ts).
 * The bundles must already exist in `bundlesDirOf(app)`.
 */
export function addNodeStack(app: App): AgentOsNodeStack {
  const settings = nodeSettingsFromContext((key) => app.node.tryGetContext(key));
  return new AgentOsNodeStack(app, nodeStackName(settings.nodeId), {
    settings,
    bundlesDir: bundlesDirOf(app),
    description: `AgentOS node "${settings.nodeId}"`,
  });
}
