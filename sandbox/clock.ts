/** The sandbox's notion of "now": real time plus an offset tests can advance (TTL expiry). */
export class SandboxClock {
  private offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}
