// The agent identity rule, checked in the browser before asking the server.

/**
 * Agent identities: what every Voice SDK accepts. The same rule as lib/agents.ts, which the pages
 * cannot import (it needs node:crypto).
 */
export const AGENT_IDENTITY = /^[A-Za-z0-9_]{1,121}$/;
