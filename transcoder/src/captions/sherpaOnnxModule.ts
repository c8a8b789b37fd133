import { sherpaOnnxPackage } from './sherpaOnnxModel.js';

/** What Tribune uses of `sherpa-onnx-node` (the package ships JavaScript without type declarations). */
export interface SherpaOnnxModule {
	OnlineRecognizer: new (config: SherpaOnlineRecognizerConfig) => SherpaOnlineRecognizer;
	version?: string;
}

export interface SherpaOnlineRecognizerConfig {
	featConfig: { sampleRate: number; featureDim: number };
	modelConfig: {
		transducer: { encoder: string; decoder: string; joiner: string };
		tokens: string;
		numThreads: number;
		provider: 'cpu';
		debug: 0 | 1;
		/** With `bpeVocab`: hotwords are given as words, split into the model's pieces by sherpa-onnx. */
		modelingUnit?: 'bpe';
		bpeVocab?: string;
	};
	decodingMethod: 'greedy_search' | 'modified_beam_search';
	maxActivePaths?: number;
	/** One hotword per line (modified_beam_search only). */
	hotwordsFile?: string;
	hotwordsScore?: number;
	enableEndpoint: 1;
	rule1MinTrailingSilence: number;
	rule2MinTrailingSilence: number;
	rule3MinUtteranceLength: number;
}

export interface SherpaOnlineStream {
	acceptWaveform(wave: { samples: Float32Array; sampleRate: number }): void;
}

export interface SherpaOnlineRecognizer {
	createStream(): SherpaOnlineStream;
	isReady(stream: SherpaOnlineStream): boolean;
	decode(stream: SherpaOnlineStream): void;
	isEndpoint(stream: SherpaOnlineStream): boolean;
	reset(stream: SherpaOnlineStream): void;
	getResult(stream: SherpaOnlineStream): SherpaOnlineResult;
}

/** `OnlineRecognizerResult::AsJsonString()`: times in seconds; `timestamps` count from `start_time`, the last reset. */
export interface SherpaOnlineResult {
	text: string;
	tokens: string[];
	timestamps: number[];
	start_time?: number;
}

/**
 * Loads the sherpa-onnx package by dynamic import, so the transcoder runs without it when the default engine is
 * used. Throws an error that says what to install when the package or its native addon for this platform is absent.
 */
export async function loadSherpaOnnx(packageName = sherpaOnnxPackage): Promise<SherpaOnnxModule> {
	let loaded: { default?: unknown };
	try {
		// A variable specifier: the package is optional and has no type declarations.
		loaded = (await import(packageName)) as { default?: unknown };
	} catch (error) {
		const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
		throw new Error(
			`the npm package ${packageName} could not be loaded (${message}); it is an optional dependency of @tribune/transcoder with prebuilt binaries for linux/macOS/windows x64 and arm64: run npm install in the Tribune checkout`,
			{ cause: error },
		);
	}
	const module = (loaded.default ?? loaded) as Partial<SherpaOnnxModule>;
	if (typeof module.OnlineRecognizer !== 'function') throw new Error(`the npm package ${packageName} has no OnlineRecognizer: is it sherpa-onnx-node?`);
	return module as SherpaOnnxModule;
}
