import http from 'node:http';
import { gunzipSync } from 'node:zlib';

export interface Fetched {
	status: number;
	headers: http.IncomingHttpHeaders;
	/** Body as sent (gzip undone when the origin compressed it). */
	body: Buffer;
	text: string;
	gzipped: boolean;
	elapsedMs: number;
}

/** GET over a plain http.request, bounded in time, so tests see exactly what the origin sent. */
export function get(url: string, options: { gzip?: boolean; timeoutMs?: number; method?: string } = {}): Promise<Fetched> {
	const started = Date.now();
	return new Promise((resolve, reject) => {
		const request = http.request(url, { method: options.method ?? 'GET', headers: { 'Accept-Encoding': options.gzip ? 'gzip' : 'identity' }, timeout: options.timeoutMs ?? 10_000 }, (response) => {
			const chunks: Buffer[] = [];
			response.on('data', (chunk: Buffer) => chunks.push(chunk));
			response.on('error', reject);
			response.on('end', () => {
				const raw = Buffer.concat(chunks);
				const gzipped = response.headers['content-encoding'] === 'gzip';
				const body = gzipped ? gunzipSync(raw) : raw;
				resolve({ status: response.statusCode ?? 0, headers: response.headers, body, text: body.toString('utf8'), gzipped, elapsedMs: Date.now() - started });
			});
		});
		request.on('timeout', () => request.destroy(new Error(`GET ${url} timed out`)));
		request.on('error', reject);
		request.end();
	});
}

/** Retries `probe` every 100 ms until it returns a value, at most `timeoutMs`. */
export async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (let attempt = 0; Date.now() < deadline && attempt < 1000; attempt++) {
		const value = await probe();
		if (value !== undefined) return value;
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
	throw new Error(`timed out waiting for ${what}`);
}
