/**
 * The AgentOS release this code is, as `package.json` names it (a unit test keeps the two equal):
 * peers read it from the discovery routes. A constant, because a bundled function has no
 * `package.json` to read.
 */
export const agentosRelease = '0.1.0';
