// The browser side: bundles the softphone, the operator console, the status and landing pages (with @twilio/voice-sdk from
// npm, no CDN) into dist/assets, and writes the silent sound the sandbox gives the SDK instead of
// Twilio's sound CDN. Called by scripts/build.mjs on every build.
import { build } from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

/** 50 ms of 8 kHz 16-bit mono silence: a valid WAV every browser decodes. */
function silentWav(samples = 400, rate = 8000) {
  const data = samples * 2;
  const wav = Buffer.alloc(44 + data);
  wav.write('RIFF', 0);
  wav.writeUInt32LE(36 + data, 4);
  wav.write('WAVE', 8);
  wav.write('fmt ', 12);
  wav.writeUInt32LE(16, 16); // PCM header size
  wav.writeUInt16LE(1, 20); // PCM
  wav.writeUInt16LE(1, 22); // mono
  wav.writeUInt32LE(rate, 24);
  wav.writeUInt32LE(rate * 2, 28); // byte rate
  wav.writeUInt16LE(2, 32); // block align
  wav.writeUInt16LE(16, 34); // bits per sample
  wav.write('data', 36);
  wav.writeUInt32LE(data, 40);
  return wav;
}

export async function buildBrowser(outDir) {
  const assets = join(outDir, 'assets');
  mkdirSync(join(assets, 'sounds'), { recursive: true });
  await build({
    entryPoints: {
      softphone: join(root, 'assets/src/softphone.ts'),
      console: join(root, 'assets/src/console.ts'),
      status: join(root, 'assets/src/status.ts'),
      landing: join(root, 'assets/src/landing.ts'),
    },
    outdir: assets,
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: ['chrome109', 'firefox115', 'safari16'],
    minify: true,
    // No source maps: the deploy uploads dist/assets as it is (tests/integration/deploy-set.test.ts).
    sourcemap: false,
    legalComments: 'eof',
    logLevel: 'warning',
  });
  writeFileSync(join(assets, 'sounds', 'silence.wav'), silentWav());
}
