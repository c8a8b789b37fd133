import { describe, expect, it } from 'vitest';
import { describePresence, ToastBatcher, type Clock, type Toast } from './toastBatcher.js';

/** A clock the test advances by hand. */
function manualClock(): Clock & { advance(ms: number): void } {
	let now = 0;
	let timers: { at: number; fn: () => void; handle: number }[] = [];
	let next = 1;
	return {
		setTimeout(fn, ms) {
			const handle = next++;
			timers.push({ at: now + ms, fn, handle });
			return handle;
		},
		clearTimeout(handle) {
			timers = timers.filter((t) => t.handle !== handle);
		},
		advance(ms) {
			now += ms;
			for (;;) {
				const due = timers.filter((t) => t.at <= now).sort((a, b) => a.at - b.at)[0];
				if (!due) return;
				timers = timers.filter((t) => t !== due);
				due.fn();
			}
		},
	};
}

describe('toast batching', () => {
	it('names one or two people and counts more', () => {
		expect(describePresence(['Ada'], 'joined')).toBe('Ada joined');
		expect(describePresence(['Ada', 'Bo'], 'left')).toBe('Ada and Bo left');
		expect(describePresence(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l'], 'joined')).toBe('12 people joined');
		expect(describePresence([], 'joined')).toBeUndefined();
	});

	it('counts people the server did not name (a big crowd per tick)', () => {
		expect(describePresence(['Ada'], 'joined', 3000)).toBe('3000 people joined');
		expect(describePresence([], 'left', 1)).toBe('1 person left');
		const clock = manualClock();
		let shown: Toast[] = [];
		const batcher = new ToastBatcher((t) => (shown = t), { windowMs: 100 }, clock);
		batcher.joined(['Ada', 'Bo'], 40);
		batcher.joined([], 10);
		clock.advance(100);
		expect(shown.map((t) => t.text)).toEqual(['50 people joined']);
	});

	it('joins within the window become one toast, which goes away after it was shown', () => {
		const clock = manualClock();
		let shown: Toast[] = [];
		const batcher = new ToastBatcher((t) => (shown = t), { windowMs: 1000, showMs: 3000 }, clock);
		for (let i = 0; i < 12; i++) batcher.joined([`p${i}`]);
		batcher.left(['Zed']);
		expect(shown).toEqual([]);
		clock.advance(1000);
		expect(shown.map((t) => t.text)).toEqual(['12 people joined · Zed left']);
		clock.advance(3000);
		expect(shown).toEqual([]);
	});

	it('keeps at most maxVisible toasts, dropping the oldest', () => {
		const clock = manualClock();
		let shown: Toast[] = [];
		const batcher = new ToastBatcher((t) => (shown = t), { maxVisible: 2 }, clock);
		batcher.announce('one');
		batcher.announce('two');
		batcher.announce('three');
		expect(shown.map((t) => t.text)).toEqual(['two', 'three']);
	});
});
