import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { childRecogniserEngineDefaults, ChildRecogniserEngine, type ChildRecogniserEngineOptions } from './ChildRecogniserEngine.js';
import { type SherpaOnnxDecoderOptions } from './SherpaOnnxDecoder.js';
import { sherpaOnnxPackage, type SherpaModelFiles } from './sherpaOnnxModel.js';
import { type SherpaRecogniserConfig } from './sherpaOnnxProtocol.js';

export interface SherpaOnnxEngineOptions extends ChildRecogniserEngineOptions {
	/** The model, as `resolveSherpaModelFiles()` found it. Required. */
	model: SherpaModelFiles;
	/** Endpointing and padding; defaults in `sherpaOnnxDecoderDefaults`. */
	decoder: Partial<SherpaOnnxDecoderOptions>;
	/**
	 * How far before the first recognised token an utterance's partials say it started, ms: a streaming transducer
	 * emits a word a few hundred ms after it began. Default 500.
	 */
	onsetLeadMs: number;
	/** The npm package the recogniser loads. Default `sherpa-onnx-node`. */
	packageName: string;
	/** Bonus per matched piece of the space's words (hotwords, with a model that ships `bpe.vocab`). Default 1.5. */
	hotwordsScore: number;
}

export const sherpaOnnxDecoderDefaults: Readonly<SherpaOnnxDecoderOptions> = Object.freeze({
	rule1MinTrailingSilenceS: 2.4,
	// Shorter than sherpa-onnx's 1.2 s default: captions should settle at a speaker's pause, as sherpa-onnx's do.
	rule2MinTrailingSilenceS: 0.8,
	tailPaddingMs: 500,
	numThreads: 1,
});

export const sherpaOnnxEngineDefaults: Readonly<Omit<SherpaOnnxEngineOptions, 'model'>> = Object.freeze({
	...childRecogniserEngineDefaults,
	decoder: {},
	onsetLeadMs: 500,
	packageName: sherpaOnnxPackage,
	hotwordsScore: 1.5,
	/** A large model on a loaded machine. */
	startTimeoutMs: 30_000,
	childScript: fileURLToPath(new URL('./sherpaOnnxChild.js', import.meta.url)),
});

/**
 * The higher-accuracy caption engine: a sherpa-onnx streaming transducer (e.g. a zipformer) from a model directory
 * the user supplies, in a child process of its own per speaker (`sherpaOnnxChild.ts`). Process management, voice
 * gate, backlog, restarts and result handling are `ChildRecogniserEngine`'s and `RecognitionLoop`'s, shared with
 * `PocketsphinxEngine`: a fault in the native library (ONNX Runtime aborts on a corrupt model) ends one speaker's
 * recogniser, which is restarted, and not the transcoder. Only the decoder in the child differs.
 */
export class SherpaOnnxEngine extends ChildRecogniserEngine {
	constructor(options: Partial<SherpaOnnxEngineOptions> & Pick<SherpaOnnxEngineOptions, 'model'>) {
		const resolved = { ...sherpaOnnxEngineDefaults, ...options };
		const config: SherpaRecogniserConfig = {
			packageName: resolved.packageName,
			model: resolved.model,
			decoder: { ...sherpaOnnxDecoderDefaults, ...resolved.decoder },
			hotwordsScore: resolved.hotwordsScore,
			loop: {
				partialIntervalMs: resolved.partialIntervalMs,
				maxUtteranceMs: resolved.maxUtteranceMs,
				onsetLeadMs: resolved.onsetLeadMs,
			},
		};
		super({ kind: 'sherpa-onnx', name: 'sherpa-onnx', config, checkFiles: () => checkSherpaModelFiles(resolved.model) }, resolved);
	}
}

function checkSherpaModelFiles({ tokens, encoder, decoder, joiner }: SherpaModelFiles): void {
	for (const file of [tokens, encoder, decoder, joiner]) {
		if (!fs.existsSync(file)) throw new Error(`sherpa-onnx model file not found: ${file}`);
	}
}
