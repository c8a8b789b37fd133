import { describe, expect, it } from 'vitest';
import type { SpaceInfo } from '../../../api/src/signaling/protocol.js';
import { followSpaceInfo } from './followSpaceInfo.js';

const info = (state: SpaceInfo['state'], captionMode: SpaceInfo['settings']['captionMode']) => ({ state, settings: { captionMode } }) as SpaceInfo;

/** A hand-driven clock: `fire()` runs the one pending timer and waits for the read it starts. */
function timers() {
	const pending: { fn: () => void; ms: number; handle: number }[] = [];
	let next = 0;
	return {
		pending,
		setTimer: (fn: () => void, ms: number) => {
			pending.push({ fn, ms, handle: ++next });
			return next;
		},
		clearTimer: (h: unknown) => {
			const at = pending.findIndex((t) => t.handle === h);
			if (at >= 0) pending.splice(at, 1);
		},
		async fire() {
			const t = pending.shift();
			if (!t) throw new Error('no timer pending');
			t.fn();
			for (let i = 0; i < 5; i++) await Promise.resolve();
		},
	};
}

describe('followSpaceInfo', () => {
	it('reads on a slow jittered timer and hands every read on; stops reading once the space has ended', async () => {
		const t = timers();
		const replies = [info('live', 'sidecar'), info('live', 'off'), info('ended', 'off')];
		const seen: string[] = [];
		followSpaceInfo({ read: async () => replies.shift()!, onInfo: (s) => seen.push(`${s.state}/${s.settings.captionMode}`), intervalMs: 1000, jitter: 0.5, random: () => 1, ...t });
		expect(t.pending.map((p) => p.ms)).toEqual([1500]);
		await t.fire();
		await t.fire();
		expect(seen).toEqual(['live/sidecar', 'live/off']);
		await t.fire();
		expect(seen).toEqual(['live/sidecar', 'live/off', 'ended/off']);
		expect(t.pending).toHaveLength(0);
	});

	it('skips a failed read and reads again; reads nothing while hidden', async () => {
		const t = timers();
		let hidden = false;
		let reads = 0;
		const seen: SpaceInfo[] = [];
		followSpaceInfo({
			read: async () => {
				reads += 1;
				if (reads === 1) throw new Error('network');
				return info('live', 'both');
			},
			onInfo: (s) => seen.push(s),
			hidden: () => hidden,
			...t,
		});
		await t.fire();
		expect(seen).toHaveLength(0);
		expect(t.pending).toHaveLength(1);
		hidden = true;
		await t.fire();
		expect(reads).toBe(1);
		hidden = false;
		await t.fire();
		expect(seen.map((s) => s.settings.captionMode)).toEqual(['both']);
	});

	it('the stop clears the pending timer and drops a read that was under way', async () => {
		const t = timers();
		let release: (s: SpaceInfo) => void = () => {};
		const seen: SpaceInfo[] = [];
		const stop = followSpaceInfo({ read: () => new Promise<SpaceInfo>((r) => (release = r)), onInfo: (s) => seen.push(s), ...t });
		await t.fire();
		stop();
		release(info('live', 'off'));
		for (let i = 0; i < 5; i++) await Promise.resolve();
		expect(seen).toHaveLength(0);
		expect(t.pending).toHaveLength(0);
		const stop2 = followSpaceInfo({ read: async () => info('live', 'off'), onInfo: (s) => seen.push(s), ...t });
		stop2();
		stop2();
		expect(t.pending).toHaveLength(0);
	});
});
