/// <reference types="node" />
import { afterAll, describe, expect, it } from 'vitest';
import { hearsBroadcast, listenerOfLiveSpace, sample, TribuneSystem, until, type Sample } from './support/tribuneSystem.js';

/**
 * An encoder run that stops delivering and dies on air (SIGSTOP then SIGKILL stand in for a run starved of CPU, then
 * stopped before the lighter one starts, or for a crash): the runner starts another, and the time no run delivered
 * goes out as gap segments (EXT-X-GAP). A listener near the live edge has run dry by then, and hls.js does not load past a gap while the
 * playhead stands before it: Tribune's player steps over the gap once a playlist lists it (or jumps to its target,
 * far behind it by then), rather than waiting for its stall watchdog's first step (3 s). Here both come about as
 * soon; in `bench:pressure` the jump was not due (at most one per 10 s) and the listener sat 3.2–3.5 s before the
 * gap until the watchdog's seek. Against the whole system as `npm start` runs it (build first).
 */
const system = new TribuneSystem('player-e2e-gap');
afterAll(() => system.stop());
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a listener over the gap an encoder crash leaves', () => {
	it('plays on past the gap without waiting for its stall watchdog', { timeout: 180_000 }, async () => {
		const { spaceId, listener } = await listenerOfLiveSpace(system, 'Gap');
		// Past the start-up jumps (10 s after the load).
		await sleep(11_000);

		const encoder = system.processes(/ffmpeg .*-f sdp .*-filter_complex/).filter((pid) => system.commandOf(pid).includes(spaceId));
		expect(encoder).toHaveLength(1);
		const before = await sample(listener);
		expect(before.errors.length).toBeLessThan(10);
		// Frozen for a second first, as a starved run is (a run killed at once is replaced within about as long, and
		// hls.js seeks over that short a hole itself), then killed.
		const killedAt = Date.now();
		process.kill(encoder[0]!, 'SIGSTOP');
		await sleep(1000);
		process.kill(encoder[0]!, 'SIGKILL');
		const log: string[] = [];
		const note = (s: Sample) => log.push(`${((Date.now() - killedAt) / 1000).toFixed(1)} s: ${s.currentTime.toFixed(2)} buffered ${JSON.stringify(s.buffered)} behind ${s.latency?.toFixed(2)} target ${s.targetLatency} ${s.status} ${s.errors.slice(-2).join(' | ')}`);
		const after = await until('the listener playing 5 s past where the encoder died', async () => {
			const s = await sample(listener);
			note(s);
			return s.status === 'playing' && s.currentTime > before.currentTime + 5 ? s : undefined;
		}, 60_000, () => log.slice(-20).join('\n'));
		// What the player said since the kill (it keeps its last 20 lines).
		const errors = after.errors.slice(before.errors.length);
		console.log(`encoder killed at ${before.currentTime.toFixed(2)}; ${errors.filter((e) => /stepped|watchdog/.test(e)).join('; ')}\n${log.filter((_, i) => i % 3 === 0).slice(0, 40).join('\n')}`);
		// Past the gap without the stall watchdog's seek 3 s into the stall: by a step of the player's own over the gap,
		// by its jump to the target once far behind it, or by hls.js' seek over a hole (the log says which).
		expect(errors.filter((e) => e.startsWith('watchdog step')), log.join('\n')).toEqual([]);
		await hearsBroadcast(system, listener, 'listener past the gap');
	});
});
