import http from 'node:http';
import https from 'node:https';
import { webhookSignatures } from './signWebhook.js';

export interface WebhookDelivery {
	url: URL;
	secret: string;
	/** The secret being rotated out: a second signature is made with it. */
	previousSecret?: string;
	/** The event's id (`Tribune-Webhook-Id`). */
	id: string;
	/** The JSON body, sent as is. */
	body: string;
	/** The whole request, connect to response, ms. */
	timeoutMs: number;
	/** Unix seconds for `Tribune-Webhook-Timestamp`. Default: now. */
	nowS?: number;
}

/** Characters of a refusal's body kept for the log; the rest is not read. */
const replyBytesKept = 512;

/** A delivery the receiver did not accept (connection refused, timeout, a status other than 2xx). */
export class WebhookDeliveryError extends Error {
	override readonly name = 'WebhookDeliveryError';
	constructor(
		message: string,
		/** The receiver's HTTP status, when it answered. */
		readonly status?: number,
	) {
		super(message);
	}
}

/**
 * POSTs one signed event to the receiver. Resolves with the status of a 2xx answer; otherwise throws
 * `WebhookDeliveryError`. Redirects are not followed (a 3xx is a failure: the URL is the operator's to fix); an
 * accepting answer's body is not read, and of a refusal's at most a few hundred bytes.
 */
export function deliverWebhook(d: WebhookDelivery): Promise<number> {
	const timestampS = d.nowS ?? Math.floor(Date.now() / 1000);
	const body = Buffer.from(d.body, 'utf8');
	const request = d.url.protocol === 'https:' ? https.request : http.request;
	return new Promise<number>((resolve, reject) => {
		const req = request(d.url, {
			method: 'POST',
			headers: {
				'Content-Type': 'application/json',
				'Content-Length': body.length,
				'User-Agent': 'Tribune-Webhooks/1',
				'Tribune-Webhook-Id': d.id,
				'Tribune-Webhook-Timestamp': String(timestampS),
				'Tribune-Signature': webhookSignatures([d.secret, ...(d.previousSecret === undefined ? [] : [d.previousSecret])], timestampS, d.body),
			},
			signal: AbortSignal.timeout(d.timeoutMs),
			// A fresh connection per delivery: retries are minutes apart, and a pooled socket the receiver closed
			// meanwhile would fail the next one for nothing.
			agent: false,
		});
		req.once('error', (error: Error) => {
			reject(new WebhookDeliveryError(error.name === 'AbortError' ? `no answer within ${d.timeoutMs} ms` : error.message));
		});
		req.once('response', (res) => {
			const status = res.statusCode ?? 0;
			if (status >= 200 && status < 300) {
				// Accepted: what the receiver says besides is not read.
				resolve(status);
				res.destroy();
				return;
			}
			let kept = '';
			res.setEncoding('utf8');
			res.on('data', (chunk: string) => {
				kept += chunk.slice(0, replyBytesKept - kept.length);
				// Enough for the log: the rest of the answer is not read.
				if (kept.length >= replyBytesKept) res.destroy();
			});
			const settle = (): void => reject(new WebhookDeliveryError(`receiver answered ${status}${kept ? `: ${JSON.stringify(kept.slice(0, 200))}` : ''}`, status));
			res.once('end', settle);
			res.once('close', settle);
			res.once('error', () => settle());
		});
		req.end(body);
	});
}
