import { createHmac, timingSafeEqual } from 'node:crypto';

/** Receivers refuse a delivery whose timestamp is further than this from their clock, s (replays, see below). */
export const webhookToleranceS = 300;

/**
 * The `Tribune-Signature` header of a delivery: `v1=` and the hex HMAC-SHA256, keyed with the webhook secret, of
 * `<timestamp>.<body>` — the `Tribune-Webhook-Timestamp` header (Unix seconds), a dot, and the raw request body.
 */
export function webhookSignature(secret: string, timestampS: number, body: string): string {
	return `v1=${createHmac('sha256', secret).update(`${timestampS}.${body}`).digest('hex')}`;
}

/** The header with one signature per secret, comma-separated: the new secret's and, while rotating, the previous one's. */
export function webhookSignatures(secrets: readonly string[], timestampS: number, body: string): string {
	return secrets.map((secret) => webhookSignature(secret, timestampS, body)).join(', ');
}

export interface WebhookVerification {
	secret: string;
	/** `Tribune-Signature`: one or more `v1=<hex>`, comma-separated (two while `TRIBUNE_WEBHOOK_SECRET_PREVIOUS` is set). */
	signature: string | undefined;
	/** `Tribune-Webhook-Timestamp`. */
	timestamp: string | undefined;
	/** The raw body, exactly as received (before any JSON parsing). */
	body: string;
	/** Unix seconds. Default: now. */
	nowS?: number;
	toleranceS?: number;
}

/**
 * What a receiver does with a delivery (Tribune's own tests use it as a receiver would): recompute the signature
 * over the timestamp and the raw body, compare in constant time, and refuse a timestamp more than `toleranceS` away
 * from its clock. A replayed delivery within the window carries an `id` already seen, and so does Tribune's retry of
 * an event whose answer was lost: the receiver keeps the ids it handled for at least the retry horizon plus
 * `toleranceS` (`webhookRetryHorizonMs`: about 68 minutes with the defaults, so 75 minutes) and acknowledges and
 * drops a repeat.
 */
export function verifyWebhookSignature(v: WebhookVerification): boolean {
	if (v.signature === undefined || v.timestamp === undefined || !/^\d{1,12}$/.test(v.timestamp)) return false;
	const timestampS = Number(v.timestamp);
	const nowS = v.nowS ?? Math.floor(Date.now() / 1000);
	if (Math.abs(nowS - timestampS) > (v.toleranceS ?? webhookToleranceS)) return false;
	const expected = Buffer.from(webhookSignature(v.secret, timestampS, v.body));
	return v.signature.split(',').some((candidate) => {
		const given = Buffer.from(candidate.trim());
		return given.length === expected.length && timingSafeEqual(given, expected);
	});
}
