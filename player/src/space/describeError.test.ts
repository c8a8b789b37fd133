import { describe, expect, it } from 'vitest';
import { describeError, mediaErrorCode } from './describeError.js';

describe('describeError', () => {
	it('says the API\'s failures in words and falls back for unknown codes', () => {
		expect(describeError('space_ended')).toBe('This space has ended.');
		expect(describeError('banned')).toMatch(/removed/);
		expect(describeError('mystery', 'Could not join.')).toBe('Could not join.');
	});

	it('maps a refused microphone to mic_denied', () => {
		expect(mediaErrorCode({ name: 'NotAllowedError' })).toBe('mic_denied');
		expect(mediaErrorCode({ name: 'NotFoundError' })).toBe('no_mic');
		expect(mediaErrorCode(new Error('x'))).toBe('internal');
	});
});
