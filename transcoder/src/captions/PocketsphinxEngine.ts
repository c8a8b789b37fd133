import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { childRecogniserEngineDefaults, ChildRecogniserEngine, type ChildRecogniserEngineOptions } from './ChildRecogniserEngine.js';
import { buildPocketsphinxArgs, resolvePocketsphinxOptions, type PocketsphinxOptions } from './pocketsphinxOptions.js';
import { type RecogniserConfig } from './recogniserProtocol.js';

export interface PocketsphinxEngineOptions extends ChildRecogniserEngineOptions {
	/** Decoder settings; defaults in `pocketsphinxDefaults`. */
	decoder: Partial<PocketsphinxOptions>;
}

export const pocketsphinxEngineDefaults: Readonly<PocketsphinxEngineOptions> = Object.freeze({
	...childRecogniserEngineDefaults,
	decoder: {},
	/** Model loading must finish within this, ms. */
	startTimeoutMs: 20_000,
	childScript: fileURLToPath(new URL('./pocketsphinxChild.js', import.meta.url)),
});

/**
 * The default caption engine: PocketSphinx with Debian's US English model, in a child process of its own per speaker
 * (`pocketsphinxChild.ts`). Process management, voice gate, backlog and restarts are `ChildRecogniserEngine`'s.
 */
export class PocketsphinxEngine extends ChildRecogniserEngine {
	constructor(options: Partial<PocketsphinxEngineOptions> = {}) {
		const resolved = { ...pocketsphinxEngineDefaults, ...options };
		const decoder = resolvePocketsphinxOptions(resolved.decoder);
		const config: RecogniserConfig = {
			args: buildPocketsphinxArgs(decoder),
			vocabularyWeight: decoder.vocabularyWeight,
			loop: {
				partialIntervalMs: resolved.partialIntervalMs,
				maxUtteranceMs: resolved.maxUtteranceMs,
				onsetLeadMs: decoder.vadPrespeechMs,
			},
		};
		super({ kind: 'pocketsphinx', name: 'PocketSphinx', config, checkFiles: () => checkPocketsphinxFiles(decoder) }, resolved);
	}
}

function checkPocketsphinxFiles({ hmmDir, lmFile, dictFile }: Readonly<PocketsphinxOptions>): void {
	for (const [what, file] of [['acoustic model directory', hmmDir], ['language model', lmFile], ['dictionary', dictFile]] as const) {
		if (!fs.existsSync(file)) {
			throw new Error(`PocketSphinx ${what} not found: ${file} (Debian: apt-get install pocketsphinx-en-us)`);
		}
	}
}
