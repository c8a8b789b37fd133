import { describe, expect, it } from 'vitest';
import { orderRunInputs } from './orderRunInputs.js';

describe('orderRunInputs', () => {
	it('lists every sound before every picture, the share last of each', () => {
		const inputs = orderRunInputs(
			[{ voice: 'v0', camera: 'c0' }, { voice: 'v1', camera: 'c1' }, { voice: 'v2', camera: 'c2' }],
			{ sound: 'ss', picture: 'sp' },
		);
		expect(inputs.streams).toEqual(['v0', 'v1', 'v2', 'ss', 'c0', 'c1', 'c2', 'sp']);
		expect(inputs.slots).toEqual([{ audio: 0, video: 4 }, { audio: 1, video: 5 }, { audio: 2, video: 6 }]);
		expect(inputs.screen).toEqual({ audio: 3, video: 7 });
	});

	it('gives each index the stream it names', () => {
		const slots = [{ voice: 'v0' }, { voice: 'v1', camera: 'c1' }, { voice: 'v2' }, { voice: 'v3', camera: 'c3' }];
		const inputs = orderRunInputs(slots, { sound: 'ss', picture: 'sp' });
		for (const [i, slot] of slots.entries()) {
			expect(inputs.streams[inputs.slots[i]!.audio]).toBe(slot.voice);
			if (slot.camera) expect(inputs.streams[inputs.slots[i]!.video!]).toBe(slot.camera);
			else expect(inputs.slots[i]!.video).toBeUndefined();
		}
		expect(inputs.streams[inputs.screen!.audio]).toBe('ss');
		expect(inputs.streams[inputs.screen!.video]).toBe('sp');
	});

	it('an audio-only space: the voices alone, in slot order', () => {
		const inputs = orderRunInputs([{ voice: 'v0' }, { voice: 'v1' }]);
		expect(inputs).toEqual({ streams: ['v0', 'v1'], slots: [{ audio: 0 }, { audio: 1 }] });
	});
});
