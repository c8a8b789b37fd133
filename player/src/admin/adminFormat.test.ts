import { describe, expect, it } from 'vitest';
import { epochMs, formatTime, inviteState, usesWords } from './adminFormat.js';

describe('adminFormat', () => {
	const now = Date.UTC(2026, 0, 1);

	it('tells an open invite from a revoked, expired or used-up one', () => {
		expect(inviteState({ expiresAt: now + 1000, maxUses: 1, uses: 0 }, now)).toBe('active');
		expect(inviteState({ expiresAt: now + 1000, maxUses: 1, uses: 0, revoked: true }, now)).toBe('revoked');
		expect(inviteState({ expiresAt: now, maxUses: 1, uses: 0 }, now)).toBe('expired');
		expect(inviteState({ expiresAt: now + 1000, maxUses: 3, uses: 3 }, now)).toBe('used');
	});

	it('reads epoch seconds and milliseconds alike', () => {
		expect(epochMs(1_767_225_600)).toBe(1_767_225_600_000);
		expect(epochMs(1_767_225_600_000)).toBe(1_767_225_600_000);
		expect(inviteState({ expiresAt: now / 1000 + 60, maxUses: 1, uses: 0 }, now)).toBe('active');
		expect(formatTime(null)).toBe('–');
		expect(formatTime(now, 'en-GB')).toMatch(/2026/);
	});

	it('counts uses in words', () => {
		expect(usesWords({ uses: 0, maxUses: 1 })).toBe('1 use');
		expect(usesWords({ uses: 1, maxUses: 1 })).toBe('1 use');
		expect(usesWords({ uses: 2, maxUses: 10 })).toBe('2 of 10 uses used');
	});
});
