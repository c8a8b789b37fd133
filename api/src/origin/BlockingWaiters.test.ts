import { describe, expect, it } from 'vitest';
import { BlockingWaiters } from './BlockingWaiters.js';

describe('BlockingWaiters', () => {
	it('releases a waiter on the first notify after it becomes ready, once', () => {
		const waiters = new BlockingWaiters();
		let value = 0;
		const outcomes: string[] = [];
		waiters.wait(() => value >= 2, 10_000, (outcome) => outcomes.push(`a:${outcome}`));
		waiters.wait(() => value >= 1, 10_000, (outcome) => outcomes.push(`b:${outcome}`));
		value = 1;
		waiters.notify();
		expect(outcomes).toEqual(['b:ready']);
		value = 2;
		waiters.notify();
		waiters.notify();
		expect(outcomes).toEqual(['b:ready', 'a:ready']);
		expect(waiters.size).toBe(0);
	});

	it('answers at once when already ready', () => {
		const outcomes: string[] = [];
		new BlockingWaiters().wait(() => true, 10, (outcome) => outcomes.push(outcome));
		expect(outcomes).toEqual(['ready']);
	});

	it('times waiters out with one timer, earliest deadline first', async () => {
		const waiters = new BlockingWaiters();
		const outcomes: string[] = [];
		waiters.wait(() => false, 120, (outcome) => outcomes.push(`slow:${outcome}`));
		waiters.wait(() => false, 30, (outcome) => outcomes.push(`fast:${outcome}`));
		await new Promise((resolve) => setTimeout(resolve, 70));
		expect(outcomes).toEqual(['fast:timeout']);
		await new Promise((resolve) => setTimeout(resolve, 100));
		expect(outcomes).toEqual(['fast:timeout', 'slow:timeout']);
	});

	it('forgets a cancelled waiter (its client went away)', async () => {
		const waiters = new BlockingWaiters();
		const outcomes: string[] = [];
		const cancel = waiters.wait(() => false, 20, (outcome) => outcomes.push(outcome));
		cancel();
		waiters.notify();
		await new Promise((resolve) => setTimeout(resolve, 40));
		expect(outcomes).toEqual([]);
		expect(waiters.size).toBe(0);
	});
});
