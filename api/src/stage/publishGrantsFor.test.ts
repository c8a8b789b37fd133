import { describe, expect, it } from 'vitest';
import { publishGrantsFor } from './publishGrantsFor.js';

describe('publishGrantsFor()', () => {
	it('lets a listener publish nothing, even in a space with video', () => {
		expect(publishGrantsFor('listener', { video: true })).toEqual({ audio: false, video: false, screen: false });
	});

	it('lets a speaker publish video only when the space has video on', () => {
		expect(publishGrantsFor('speaker', { video: false })).toEqual({ audio: true, video: false, screen: false });
		expect(publishGrantsFor('speaker', { video: true })).toEqual({ audio: true, video: true, screen: true });
	});

	it('lets hosts and co-hosts share a screen when speakers may not', () => {
		const off = { speakersMayShare: false };
		expect(publishGrantsFor('speaker', { video: true }, off).screen).toBe(false);
		expect(publishGrantsFor('cohost', { video: true }, off).screen).toBe(true);
		expect(publishGrantsFor('host', { video: true }, off).screen).toBe(true);
	});

	it('lets nobody share a screen in a space without video (there is no picture to put it in)', () => {
		for (const role of ['host', 'cohost', 'speaker', 'listener'] as const) expect(publishGrantsFor(role, { video: false }).screen).toBe(false);
	});
});
