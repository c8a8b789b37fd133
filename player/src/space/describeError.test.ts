import { describe, expect, it } from 'vitest';
import { describeError, describeFull, mediaErrorCode } from './describeError.js';

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
