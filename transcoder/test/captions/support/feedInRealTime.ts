import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Feeds `samples` in 20 ms chunks at the pace they would arrive from a live speaker: a timer wakes every 20 ms and
 * sends every chunk that is due by the monotonic clock, so timer lateness does not accumulate. Returns, for each
 * chunk, the wall-clock time (performance.now()) at which it was fed.
 */
export async function feedInRealTime(samples: Int16Array, feed: (chunk: Int16Array) => void, chunkMs = 20): Promise<number[]> {
	const chunkSamples = chunkMs * 16;
	const chunks = Math.ceil(samples.length / chunkSamples);
	const fedAt: number[] = [];
	const t0 = performance.now();
	for (let i = 0; i < chunks; ) {
		const due = Math.min(chunks, Math.floor((performance.now() - t0) / chunkMs) + 1);
		for (; i < due; i++) {
			feed(samples.slice(i * chunkSamples, (i + 1) * chunkSamples));
			fedAt.push(performance.now());
		}
		if (i < chunks) await sleep(Math.max(1, t0 + i * chunkMs - performance.now()));
	}
	return fedAt;
}
