import { describe, expect, it } from 'vitest';
import { loadApiConfig } from '../config.js';

const secret = 'whsec-0123456789abcdef0123456789abcdef';

describe('loadApiConfig(): webhooks', () => {
	it('sends none by default', () => {
		expect(loadApiConfig({ REDIS_URL: 'redis://h' }).webhooks).toBeUndefined();
	});

	it('takes an http(s) URL with its signing secret', () => {
		const { webhooks } = loadApiConfig({ REDIS_URL: 'redis://h', TRIBUNE_WEBHOOK_URL: 'https://hooks.example.com/tribune?k=1', TRIBUNE_WEBHOOK_SECRET: secret });
		expect(webhooks?.url.href).toBe('https://hooks.example.com/tribune?k=1');
		expect(webhooks?.secret).toBe(secret);
	});

	it('refuses a URL without a secret, and a secret without a URL', () => {
		expect(() => loadApiConfig({ REDIS_URL: 'redis://h', TRIBUNE_WEBHOOK_URL: 'https://hooks.example.com/' })).toThrow(/TRIBUNE_WEBHOOK_SECRET=\(unset\): TRIBUNE_WEBHOOK_URL and TRIBUNE_WEBHOOK_SECRET go together/);
		expect(() => loadApiConfig({ REDIS_URL: 'redis://h', TRIBUNE_WEBHOOK_SECRET: secret })).toThrow(/TRIBUNE_WEBHOOK_SECRET=\(hidden\): TRIBUNE_WEBHOOK_URL and TRIBUNE_WEBHOOK_SECRET go together/);
	});

	it('takes the previous secret while one is rotated, only with a current one, and a backlog bound', () => {
		const previous = 'whsec-previous-0123456789abcdef0123456789';
		const env = { REDIS_URL: 'redis://h', TRIBUNE_WEBHOOK_URL: 'https://hooks.example.com/', TRIBUNE_WEBHOOK_SECRET: secret };
		expect(loadApiConfig(env).webhooks).toMatchObject({ maxBacklog: 10_000 });
		expect(loadApiConfig(env).webhooks?.previousSecret).toBeUndefined();
		expect(loadApiConfig({ ...env, TRIBUNE_WEBHOOK_SECRET_PREVIOUS: previous, WEBHOOK_MAX_BACKLOG: '500' }).webhooks).toMatchObject({ previousSecret: previous, maxBacklog: 500 });
		const load = () => loadApiConfig({ REDIS_URL: 'redis://h', TRIBUNE_WEBHOOK_SECRET_PREVIOUS: previous });
		expect(load).toThrow(/TRIBUNE_WEBHOOK_SECRET_PREVIOUS=\(hidden\): TRIBUNE_WEBHOOK_SECRET_PREVIOUS is the secret being replaced/);
		expect(load).not.toThrow(/whsec-previous/);
		expect(() => loadApiConfig({ ...env, WEBHOOK_MAX_BACKLOG: '0' })).toThrow(/WEBHOOK_MAX_BACKLOG/);
	});

	it('refuses a short secret without echoing it', () => {
		const load = () => loadApiConfig({ REDIS_URL: 'redis://h', TRIBUNE_WEBHOOK_URL: 'http://127.0.0.1:9000/', TRIBUNE_WEBHOOK_SECRET: 'too-short-secret' });
		expect(load).toThrow(/TRIBUNE_WEBHOOK_SECRET=\(hidden\): expected at least 32/);
		expect(load).not.toThrow(/too-short-secret/);
	});

	it.each([
		['ftp://hooks.example.com/', /expected an http:\/\/ or https:\/\/ URL/],
		['file:///etc/passwd', /expected an http:\/\/ or https:\/\/ URL/],
		['hooks.example.com/tribune', /expected an absolute/],
		['https://user:pw@hooks.example.com/', /no user or password/],
	])('refuses the webhook URL %s', (url, message) => {
		expect(() => loadApiConfig({ REDIS_URL: 'redis://h', TRIBUNE_WEBHOOK_URL: url, TRIBUNE_WEBHOOK_SECRET: secret })).toThrow(message);
	});
});
