/**
 * The recogniser process of one `SherpaOnnxEngine`: loads sherpa-onnx and the model (`SherpaOnnxDecoder`) in
 * `runRecogniserChild`, which reads PCM from stdin and sends results over the IPC channel. A corrupt model makes
 * ONNX Runtime abort this process while loading: the engine reports that exit, with the library's message from
 * stderr, as the start failure.
 */
import { runRecogniserChild } from './recogniserChild.js';
import { SherpaOnnxDecoder } from './SherpaOnnxDecoder.js';
import { loadSherpaOnnx } from './sherpaOnnxModule.js';
import { sherpaRecogniserConfigSchema } from './sherpaOnnxProtocol.js';

void runRecogniserChild(async (raw) => {
	const config = sherpaRecogniserConfigSchema.parse(raw);
	const sherpa = await loadSherpaOnnx(config.packageName);
	return { decoder: new SherpaOnnxDecoder(sherpa, config.model, config.decoder), loop: config.loop };
});
