import { composeAlertNotifier } from '../composition/alert-notifier-root.ts';

/** Lambda entry: the alert notifier, subscribed to the node's alarm topic (HLD §9.3). */
export const handler = composeAlertNotifier().handler;
