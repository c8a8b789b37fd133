/**
 * The body of a recogniser process (`pocketsphinxChild.ts`, `sherpaOnnxChild.ts`), the child's side of
 * `ChildRecogniserEngine`: reads PCM frames from stdin, runs them through a `RecognitionLoop` over the engine's
 * decoder and sends results over the IPC channel. Exits when stdin ends (after the last final) or when the engine
 * goes away. A decoder that cannot open is reported as `failed`; a native abort while loading is an exit, which the
 * engine reports with the library's message from stderr.
 */
import { PcmFrameReader } from './pcmFrames.js';
import { RecognitionLoop, type RecognitionLoopOptions } from './RecognitionLoop.js';
import { recogniserSetupSchema, type RecogniserMessage } from './recogniserProtocol.js';
import { type SpeechDecoder } from './SpeechDecoder.js';

/**
 * One engine's decoder, opened from the configuration the engine sent (not yet validated) and the space's words
 * (validated: `recogniserSetupSchema`).
 */
export type OpenRecogniserDecoder = (config: unknown, vocabulary: readonly string[]) => { decoder: SpeechDecoder; loop: RecognitionLoopOptions } | Promise<{ decoder: SpeechDecoder; loop: RecognitionLoopOptions }>;

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

/** The engine's first IPC message: the setup. */
function firstMessage(): Promise<unknown> {
	return new Promise((resolve) => process.once('message', resolve));
}

export async function runRecogniserChild(openDecoder: OpenRecogniserDecoder): Promise<void> {
	// The engine that started us is gone: nothing would read our results.
	process.on('disconnect', () => process.exit(0));
	let decoder: SpeechDecoder;
	let loop: RecognitionLoop;
	try {
		const setup = recogniserSetupSchema.parse(await firstMessage());
		const opened = await openDecoder(setup.config, setup.vocabulary);
		decoder = opened.decoder;
		loop = new RecognitionLoop(decoder, opened.loop, (result) => send({ type: 'result', result }));
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
