import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { answerScrape, bearerMatches } from './metricsAccess.js';

const token = 'a-metrics-token-of-forty-characters-0001';

describe('bearerMatches()', () => {
	it('takes exactly the token, as a bearer credential', () => {
		expect(bearerMatches(`Bearer ${token}`, token)).toBe(true);
		expect(bearerMatches(`bearer ${token}`, token)).toBe(true);
		expect(bearerMatches(`Bearer ${token}x`, token)).toBe(false);
		expect(bearerMatches(`Bearer ${token.slice(0, -1)}`, token)).toBe(false);
		expect(bearerMatches(`Basic ${token}`, token)).toBe(false);
		expect(bearerMatches(token, token)).toBe(false);
		expect(bearerMatches(undefined, token)).toBe(false);
		expect(bearerMatches('Bearer ', token)).toBe(false);
	});
});

describe('answerScrape()', () => {
	it('answers a wrong token 401 with the catalogue error, and the right one with the registry', async () => {
		const registry = new Registry();
		const refused = await answerScrape(registry, token, 'Bearer nope');
		expect(refused.status).toBe(401);
		expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'unauthorized' } });
		expect(refused.headers).toContain('WWW-Authenticate');
		expect((await answerScrape(registry, token, `Bearer ${token}`)).status).toBe(200);
		expect((await answerScrape(registry, undefined, undefined)).status).toBe(200);
	});
});
