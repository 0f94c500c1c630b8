// What the sandbox's Functions gateway (sandbox/functions-gateway.ts) did with the requests a test
// made: whether each reached twilio-run, and why not. Other requests (the sandbox's own late
// callbacks) may go through it meanwhile, so a test looks at the records since its mark, by path.
import type { SandboxControl } from '../../sandbox/control-client';
import type { GatewayRecord } from '../../sandbox/functions-gateway';

export interface GatewayLog {
  /** A mark: the records after it are the requests made since. */
  mark(): Promise<number>;
  /** The records since `mark` (oldest first), to `path` when given (its pathname, no query). */
  since(mark: number, path?: string): Promise<GatewayRecord[]>;
}

export function gatewayLog(control: () => SandboxControl): GatewayLog {
  return {
    async mark() {
      const { requests } = await control().functionsGateway();
      return requests.at(-1)?.seq ?? 0;
    },
    async since(mark, path) {
      const { requests } = await control().functionsGateway();
      return requests.filter((r) => r.seq > mark && (path === undefined || r.path === path));
    },
  };
}
