import { describe, expect, it } from 'vitest';
import { addReaction, type FloatingReaction } from './reactions.js';

describe('floating reactions', () => {
	it('float one bubble each while there is room', () => {
		let floating: FloatingReaction[] = [];
		floating = addReaction(floating, 'clap', 1, 10);
		floating = addReaction(floating, 'fire', 2, 20);
		expect(floating.map((r) => [r.kind, r.count])).toEqual([['clap', 1], ['fire', 1]]);
	});

	it('aggregate into a bubble of the same kind once the air is full', () => {
		let floating: FloatingReaction[] = [];
		for (let i = 0; i < 50; i++) floating = addReaction(floating, 'fire', i, 50, 4);
		expect(floating).toHaveLength(4);
		expect(floating.reduce((n, r) => n + r.count, 0)).toBe(50);
		floating = addReaction(floating, 'heart', 99, 50, 4);
		expect(floating.map((r) => r.kind)).toEqual(['fire', 'fire', 'fire', 'heart']);
	});
});
