import { describe, expect, it } from 'vitest';
import { verifyWebhookSignature, webhookSignature, webhookSignatures } from './signWebhook.js';
import { webhookRetryHorizonMs } from './WebhookQueue.js';

const secret = 'a-webhook-secret-of-at-least-32-characters';
const body = '{"id":"evt_AAAAAAAAAAAAAAAAAAAAAA","type":"space.started","createdAt":"2026-01-01T00:00:00.000Z","data":{}}';

describe('webhookSignature', () => {
	it('is v1= and the hex HMAC-SHA256 of "<timestamp>.<body>" (golden: openssl dgst -sha256 -hmac)', () => {
		expect(webhookSignature(secret, 1_700_000_000, '{"a":1}')).toBe('v1=7fbc889611e2519adf3f1c7433eabe3de7811cefcbc547442137610c89d02105');
	});

	it('verifies its own signature and refuses a changed body, a changed timestamp, another secret and a stale delivery', () => {
		const t = 1_700_000_000;
		const signature = webhookSignature(secret, t, body);
		const ok = { secret, signature, timestamp: String(t), body, nowS: t + 10 };
		expect(verifyWebhookSignature(ok)).toBe(true);
		expect(verifyWebhookSignature({ ...ok, body: body.replace('started', 'ended') })).toBe(false);
		expect(verifyWebhookSignature({ ...ok, timestamp: String(t + 1), nowS: t + 1 })).toBe(false);
		expect(verifyWebhookSignature({ ...ok, secret: `${secret}x` })).toBe(false);
		expect(verifyWebhookSignature({ ...ok, nowS: t + 301 })).toBe(false);
		expect(verifyWebhookSignature({ ...ok, signature: undefined })).toBe(false);
		expect(verifyWebhookSignature({ ...ok, timestamp: '1e9' })).toBe(false);
		// A rotated secret: either of two signatures is enough.
		expect(verifyWebhookSignature({ ...ok, signature: `v1=${'0'.repeat(64)}, ${signature}` })).toBe(true);
	});

	it('signs with the new and the previous secret while one is rotated: a receiver knowing either accepts', () => {
		const t = 1_700_000_000;
		const previous = 'the-previous-webhook-secret-of-32-chars-or-more';
		const signature = webhookSignatures([secret, previous], t, body);
		expect(signature).toBe(`${webhookSignature(secret, t, body)}, ${webhookSignature(previous, t, body)}`);
		for (const known of [secret, previous]) expect(verifyWebhookSignature({ secret: known, signature, timestamp: String(t), body, nowS: t })).toBe(true);
		expect(verifyWebhookSignature({ secret: 'another-webhook-secret-of-32-characters-x', signature, timestamp: String(t), body, nowS: t })).toBe(false);
	});
});

describe('webhookRetryHorizonMs', () => {
	it('is the time from the first attempt to the last: 2 s doubling over 12 attempts is about 68 minutes', () => {
		expect(webhookRetryHorizonMs()).toBe(2000 * (2 ** 11 - 1));
		expect(Math.round(webhookRetryHorizonMs() / 60_000)).toBe(68);
		expect(webhookRetryHorizonMs({ attempts: 3, backoffMs: 100 })).toBe(300);
		expect(webhookRetryHorizonMs({ attempts: 1 })).toBe(0);
	});
});
