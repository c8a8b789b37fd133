import { describe, expect, it } from 'vitest';
import type { Role } from '../Space.js';
import { grantsForRole, hasGrant, type Grant } from './grantsForRole.js';

describe('grantsForRole()', () => {
	it('lets a listener listen, react, raise a hand and rotate their own token, and nothing else', () => {
		expect([...grantsForRole('listener')].sort()).toEqual(['listen', 'raise_hand', 'react', 'rotate_token']);
	});

	it.each<[Role, Grant]>([
		['listener', 'publish_audio'],
		['listener', 'publish_video'],
		['listener', 'manage_stage'],
		['speaker', 'manage_stage'],
		['speaker', 'remove_participant'],
		['speaker', 'raise_hand'],
		['cohost', 'manage_cohosts'],
		['cohost', 'end_space'],
		['cohost', 'start_space'],
		['host', 'leave_stage'],
		['listener', 'manage_captions'],
		['speaker', 'manage_captions'],
		['listener', 'revoke_tokens'],
		['speaker', 'revoke_tokens'],
	])('does not give a %s %s', (role, grant) => {
		expect(hasGrant(role, grant)).toBe(false);
	});

	it.each<[Role, Grant]>([
		['speaker', 'publish_audio'],
		['speaker', 'publish_video'],
		['speaker', 'leave_stage'],
		['cohost', 'manage_stage'],
		['cohost', 'remove_participant'],
		['host', 'manage_cohosts'],
		['host', 'end_space'],
		['host', 'publish_audio'],
		['cohost', 'manage_captions'],
		['host', 'manage_captions'],
		['cohost', 'revoke_tokens'],
		['host', 'revoke_tokens'],
		['speaker', 'rotate_token'],
		['host', 'rotate_token'],
	])('gives a %s %s', (role, grant) => {
		expect(hasGrant(role, grant)).toBe(true);
	});

	it('gives a role that is not in the table nothing', () => {
		expect(grantsForRole('admin' as Role).size).toBe(0);
		expect(grantsForRole('__proto__' as Role).size).toBe(0);
	});
});
