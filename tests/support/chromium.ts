// The browser suites need Chromium (testing/browser.ts). Where there is none they are skipped with a
// message, except under CI: a browser suite skipped there would pass while proving nothing.
import { CHROMIUM, hasChromium } from '../../testing/browser';

const underCi = !['', '0', 'false'].includes((process.env.CI ?? '').toLowerCase());

/**
 * `describe` for a suite that drives Chromium. Without Chromium: under CI one failing test says
 * what is missing; elsewhere the suite is skipped, and the run says so.
 */
export function describeWithChromium(name: string, suite: () => void): void {
  if (hasChromium) {
    describe(name, suite);
  } else if (underCi) {
    describe(name, () => {
      it('finds Chromium (CI runs every browser suite)', () => {
        expect({ chromium: CHROMIUM, found: hasChromium }).toEqual({ chromium: CHROMIUM, found: true });
      });
    });
  } else {
    console.warn(`${name}: skipped, no Chromium at ${CHROMIUM} (install it or set CHROMIUM_PATH)`);
    describe.skip(name, suite);
  }
}
