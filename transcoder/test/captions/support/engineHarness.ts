import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type CaptionFinal, type CaptionPartial } from '../../../src/captions/CaptionEngine.js';
import { PocketsphinxEngine, type PocketsphinxEngineOptions } from '../../../src/captions/PocketsphinxEngine.js';

/** The compiled recogniser: tests run the engine from src/, but its child process runs plain JavaScript. */
export const recogniserScript = fileURLToPath(new URL('../../../dist/captions/pocketsphinxChild.js', import.meta.url));

export function assertBuilt(): void {
	if (!fs.existsSync(recogniserScript)) throw new Error(`${recogniserScript} is missing: run npm run build`);
}

/** An engine with everything it emits collected, and a way to wait for a final. */
export function collectingEngine(options: Partial<PocketsphinxEngineOptions> = {}) {
	const engine = new PocketsphinxEngine({ childScript: recogniserScript, ...options });
	const partials: (CaptionPartial & { at: number })[] = [];
	const finals: (CaptionFinal & { at: number })[] = [];
	const errors: Error[] = [];
	engine.on('partial', (p) => partials.push({ ...p, at: performance.now() }));
	engine.on('final', (f) => finals.push({ ...f, at: performance.now() }));
	engine.on('error', (e) => errors.push(e));
	/** Resolves with the next final whose text is not empty (or after `timeoutMs` with an error). */
	const nextFinal = (timeoutMs = 20_000): Promise<CaptionFinal> =>
		new Promise((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error(`no final within ${timeoutMs} ms`)), timeoutMs);
			const onFinal = (f: CaptionFinal): void => {
				if (f.text === '') return;
				clearTimeout(timer);
				engine.off('final', onFinal);
				resolve(f);
			};
			engine.on('final', onFinal);
		});
	return { engine, partials, finals, errors, nextFinal };
}

/** Feeds all of `samples` at once in 20 ms chunks (faster than real time; the recogniser queues them). */
export function feedAll(feed: (chunk: Int16Array) => void, samples: Int16Array): void {
	for (let i = 0; i < samples.length; i += 320) feed(samples.slice(i, i + 320));
}
