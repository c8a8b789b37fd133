/**
 * The recogniser process of one `SherpaOnnxEngine`: loads sherpa-onnx and the model, reads PCM frames from stdin and
 * sends results over the IPC channel. Started with `child_process.fork`; exits when stdin ends (after the last final)
 * or when the engine goes away. A corrupt model makes ONNX Runtime abort this process while loading: the engine
 * reports that exit, with the library's message from stderr, as the start failure.
 */
import { PcmFrameReader } from './pcmFrames.js';
import { RecognitionLoop } from './RecognitionLoop.js';
import { type RecogniserMessage } from './recogniserProtocol.js';
import { SherpaOnnxDecoder } from './SherpaOnnxDecoder.js';
import { loadSherpaOnnx } from './sherpaOnnxModule.js';
import { sherpaRecogniserConfigSchema } from './sherpaOnnxProtocol.js';

function send(message: RecogniserMessage, done?: () => void): void {
	if (!process.send || !process.connected) return;
	process.send(message, undefined, undefined, done ? () => done() : undefined);
}

function fail(error: unknown): void {
	const message = error instanceof Error ? error.message : String(error);
	send({ type: 'failed', message }, () => process.exit(1));
	// Without a channel the callback never runs.
	if (!process.connected) process.exit(1);
}

async function main(): Promise<void> {
	// The engine that started us is gone: nothing would read our results.
	process.on('disconnect', () => process.exit(0));
	let decoder: SherpaOnnxDecoder;
	let loop: RecognitionLoop;
	try {
		const config = sherpaRecogniserConfigSchema.parse(JSON.parse(process.argv[2] ?? ''));
		const sherpa = await loadSherpaOnnx(config.packageName);
		decoder = new SherpaOnnxDecoder(sherpa, config.model, config.decoder);
		loop = new RecognitionLoop(decoder, config.loop, (result) => send({ type: 'result', result }));
	} catch (error) {
		fail(error);
		return;
	}
	const reader = new PcmFrameReader();
	process.stdin.on('data', (bytes: Buffer) => {
		try {
			for (const frame of reader.push(bytes)) {
				if (frame.kind === 'audio') loop.push(frame.streamSample, frame.samples);
				else loop.pause();
			}
		} catch (error) {
			fail(error);
		}
	});
	process.stdin.on('end', () => {
		loop.finish();
		decoder.close();
		// The last final must reach the engine before we go.
		send({ type: 'finished' }, () => process.disconnect());
	});
	send({ type: 'ready' });
}

void main();
