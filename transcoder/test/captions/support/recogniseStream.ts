import { type CaptionFinal } from '../../../src/captions/CaptionEngine.js';
import { type ChildRecogniserEngine } from '../../../src/captions/ChildRecogniserEngine.js';
import { feedAll } from './engineHarness.js';
import { cpuSeconds } from './procStats.js';
import { slotOf, type SentenceStream } from './sentenceStream.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts a fresh engine, feeds it a whole stream as fast as it takes it and stops it once the last sentence's final
 * came (or `timeoutMs` passed): its finals and the recogniser's CPU seconds meanwhile (read before `stop()`, as the
 * stream ends in a pause). The engine needs a `maxBacklogMs` above the stream's length.
 */
export async function recogniseStream(engine: ChildRecogniserEngine, stream: SentenceStream, timeoutMs: number) {
	const finals: CaptionFinal[] = [];
	engine.on('final', (f) => finals.push(f));
	await engine.start();
	const pid = engine.recogniserPid!;
	const cpu0 = cpuSeconds(pid);
	feedAll((c) => engine.feed(c), stream.samples);
	const last = stream.slots.length - 1;
	const deadline = Date.now() + timeoutMs;
	while (!finals.some((f) => slotOf(stream.slots, f) === last) && Date.now() < deadline) await sleep(50);
	const cpu = cpuSeconds(pid) - cpu0;
	await engine.stop();
	return { finals, cpu };
}
