import { describe, expect, it } from 'vitest';
import { acceptsGzip } from './createOriginRouter.js';

describe('acceptsGzip', () => {
	it('takes gzip when offered, with or without a quality', () => {
		expect(acceptsGzip('gzip, deflate, br')).toBe(true);
		expect(acceptsGzip('br;q=1.0, gzip;q=0.8')).toBe(true);
	});

	it('refuses it when absent or refused with q=0', () => {
		expect(acceptsGzip(undefined)).toBe(false);
		expect(acceptsGzip('identity')).toBe(false);
		expect(acceptsGzip('br, gzip;q=0')).toBe(false);
		expect(acceptsGzip('gzip; q=0.000, br')).toBe(false);
	});
});
