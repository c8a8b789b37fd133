import { describe, expect, it } from 'vitest';
import { CaptionerUtterances } from './CaptionerUtterances.js';

const push = (captionerId: string, text: string, final: boolean) => ({ captionerId, text, final, speakerName: 'Cap' });

describe('CaptionerUtterances', () => {
	it('gives the partials of an utterance and its final one id and the start time of the first push', () => {
		let now = 1000;
		const u = new CaptionerUtterances({ now: () => now });
		const a = u.cueOf(push('c1', 'Hello', false));
		now = 1500;
		const b = u.cueOf(push('c1', 'Hello every', false));
		now = 2000;
		const c = u.cueOf(push('c1', 'Hello everyone', true));
		expect(new Set([a.id, b.id, c.id]).size).toBe(1);
		expect(c).toMatchObject({ startMs: 1000, endMs: 2000, final: true, text: 'Hello everyone' });
		now = 2100;
		const d = u.cueOf(push('c1', 'Next', true));
		expect(d.id).not.toBe(c.id);
		expect(d).toMatchObject({ startMs: 2100, endMs: 2100 });
	});

	it('keeps the utterances of two captioners apart', () => {
		const u = new CaptionerUtterances();
		const a = u.cueOf(push('c1', 'one', false));
		const b = u.cueOf(push('c2', 'two', false));
		expect(a.id).not.toBe(b.id);
		expect(u.cueOf(push('c1', 'one more', true)).id).toBe(a.id);
		expect(u.cueOf(push('c2', 'two more', true)).id).toBe(b.id);
		expect(u.size).toBe(0);
	});

	it('starts a new utterance after a partial left idle, and forgets the least recent captioner beyond the bound', () => {
		let now = 0;
		const u = new CaptionerUtterances({ now: () => now, idleMs: 100, maxCaptioners: 2 });
		const a = u.cueOf(push('c1', 'x', false));
		now = 500;
		expect(u.cueOf(push('c1', 'y', false)).id).not.toBe(a.id);
		u.cueOf(push('c2', 'z', false));
		u.cueOf(push('c3', 'w', false));
		expect(u.size).toBe(2);
	});
});
