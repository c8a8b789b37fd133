import { describe, expect, it } from 'vitest';
import { describeCloseCode, describeError, describeFull, describeRefusal, mediaErrorCode } from './describeError.js';

describe('describeError', () => {
	it('says the API\'s failures in words and falls back for unknown codes', () => {
		expect(describeError('space_ended')).toBe('This space has ended.');
		expect(describeError('banned')).toMatch(/removed/);
		expect(describeError('mystery', 'Could not join.')).toBe('Could not join.');
	});

	it('says how long until a full server is tried again', () => {
		expect(describeFull(10)).toBe('This space is full here, retrying in 10 s.');
		expect(describeFull(0.2)).toBe('This space is full here, retrying in 1 s.');
	});

	it('maps a refused microphone to mic_denied', () => {
		expect(mediaErrorCode({ name: 'NotAllowedError' })).toBe('mic_denied');
		expect(mediaErrorCode({ name: 'NotFoundError' })).toBe('no_mic');
		expect(mediaErrorCode(new Error('x'))).toBe('internal');
	});
});

describe('describeRefusal', () => {
	it('has a sentence for every refusal a public server adds', () => {
		for (const code of ['banned', 'name_taken', 'hand_queue_full', 'limit_reached', 'capacity', 'space_full', 'host_required', 'rate_limited', 'too_many_connections']) {
			expect(describeRefusal(code, undefined, 'FALLBACK'), code).not.toBe('FALLBACK');
		}
		expect(describeError('host_required')).toMatch(/ask this server's operator for a host invite link/);
		expect(describeError('name_taken')).toMatch(/already goes by that name/);
	});

	it('tells the wait the server asked for, in the sentence, once', () => {
		expect(describeRefusal('rate_limited', 12)).toBe('Too many attempts. Try again in 12 s.');
		expect(describeRefusal('rate_limited', undefined)).toBe('Slow down a little and try again.');
		expect(describeRefusal('capacity', 90)).toBe('This server is running as many live spaces as it can. Try again in 1 min 30 s.');
		expect(describeRefusal('space_full', 120)).toBe('This space is full. Try again in 2 min.');
		// A wait means nothing for a refusal that waiting does not lift.
		expect(describeRefusal('banned', 30)).toBe(describeError('banned'));
	});

	it('says why a WebSocket was closed for a limit, and nothing for other codes', () => {
		expect(describeCloseCode(4429)).toMatch(/Too many connections come from your network/);
		expect(describeCloseCode(4429, 20)).toMatch(/Try again in 20 s\.$/);
		expect(describeCloseCode(4503, 5)).toBe('This space is full here, retrying in 5 s.');
		expect(describeCloseCode(4009)).toBeUndefined();
	});
});
