import { ConfigError } from '@tribune/ingest';
import { type SherpaModelFiles } from './sherpaOnnxModel.js';
import { SherpaOnnxEngine, type SherpaOnnxEngineOptions } from './SherpaOnnxEngine.js';

/**
 * Loads the sherpa-onnx model once, in a recogniser process like a speaker's, before the transcoder takes any
 * broadcast: a model that is there but broken (truncated, another architecture, a non-streaming model) or an addon
 * that does not load stops the transcoder at startup with the path and the library's message, instead of every
 * broadcast running without captions. Throws a `ConfigError`.
 */
export async function probeSherpaOnnxEngine(model: SherpaModelFiles, options: Partial<Omit<SherpaOnnxEngineOptions, 'model'>> = {}): Promise<void> {
	const engine = new SherpaOnnxEngine({ ...options, model });
	try {
		await engine.start();
	} catch (error) {
		const message = error instanceof Error ? error.message : String(error);
		throw new ConfigError(`TRIBUNE_SHERPA_MODEL_DIR=${model.dir}: the sherpa-onnx caption engine could not load this model: ${message}`);
	}
	await engine.stop();
}
