import { describe, expect, it } from 'vitest';
import { publishGrantsFor } from './publishGrantsFor.js';

describe('publishGrantsFor()', () => {
	it('lets a listener publish nothing, even in a space with video', () => {
		expect(publishGrantsFor('listener', { video: true })).toEqual({ audio: false, video: false });
	});

	it('lets a speaker publish video only when the space has video on', () => {
		expect(publishGrantsFor('speaker', { video: false })).toEqual({ audio: true, video: false });
		expect(publishGrantsFor('speaker', { video: true })).toEqual({ audio: true, video: true });
	});
});
