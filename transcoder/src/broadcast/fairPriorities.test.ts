import { describe, expect, it } from 'vitest';
import { fairPriorities, fairPriority } from './fairPriorities.js';

describe('fairPriority', () => {
	it('is 1 for an owner’s first broadcast, 2 for their second, and never past BullMQ’s lowest', () => {
		expect([0, 1, 2].map(fairPriority)).toEqual([1, 2, 3]);
		expect(fairPriority(-3)).toBe(1);
		expect(fairPriority(10_000_000)).toBe(2_097_152);
	});
});

describe('fairPriorities', () => {
	it('counts an owner’s running broadcasts and their waiting ones queued earlier; a job without an owner is a first', () => {
		const waiting = [
			{ id: 'b1', owner: 'B', queuedAt: 3 },
			{ id: 'a3', owner: 'A', queuedAt: 2 },
			{ id: 'x1', queuedAt: 4 },
			{ id: 'a2', owner: 'A', queuedAt: 1 },
			{ id: 'x2', queuedAt: 5 },
		];
		expect(fairPriorities([{ owner: 'A' }, {}], waiting)).toEqual([
			{ id: 'a2', priority: 2 },
			{ id: 'a3', priority: 3 },
			{ id: 'b1', priority: 1 },
			{ id: 'x1', priority: 1 },
			{ id: 'x2', priority: 1 },
		]);
		// A's running broadcast ended: a2 is their first again.
		expect(fairPriorities([], waiting).filter((j) => j.id.startsWith('a'))).toEqual([
			{ id: 'a2', priority: 1 },
			{ id: 'a3', priority: 2 },
		]);
	});

	it('plans alike on every node: queue-time ties are broken by id', () => {
		const waiting = [
			{ id: 'q', owner: 'P', queuedAt: 1 },
			{ id: 'p', owner: 'P', queuedAt: 1 },
		];
		expect(fairPriorities([], waiting)).toEqual([
			{ id: 'p', priority: 1 },
			{ id: 'q', priority: 2 },
		]);
		expect(fairPriorities([], [...waiting].reverse())).toEqual(fairPriorities([], waiting));
	});
});
