import { config } from 'zod';

/**
 * zod, which the wire protocol's schemas (api/src/signaling/protocol.ts) bring into the bundle, probes whether it may
 * compile parsers with `Function('')` when its first object schema is built. The app's Content-Security-Policy has
 * no 'unsafe-eval', so Chromium refuses the probe and reports a violation; zod then parses without compiling anyway.
 * Jitless from the start, nothing is probed. main.ts imports this module first, before any schema exists.
 */
config({ jitless: true });
