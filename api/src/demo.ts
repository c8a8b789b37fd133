import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { demoConversation, demoSpace } from './demoConversation.js';

/**
 * `npm run demo`: starts Tribune (the normal launcher, with synthetic speakers and open hosting allowed), creates a
 * live, recorded space with captions on, puts three synthetic speakers on its stage who take turns through a short
 * scripted conversation (flite voices, looped; `demoConversation.ts`), and prints its link. Ctrl-C stops everything.
 */
const port = Number(process.env.PORT ?? 8080);
const base = `http://127.0.0.1:${port}`;

async function request(path: string, body: unknown, token?: string): Promise<Record<string, unknown>> {
	const res = await fetch(`${base}${path}`, {
		method: 'POST',
		headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
		body: JSON.stringify(body),
	});
	const json = (await res.json()) as Record<string, unknown>;
	if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
	return json;
}

async function waitForHealthy(timeoutMs: number): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		const ok = await fetch(`${base}/healthz`).then((r) => r.ok, () => false);
		if (ok) return;
		await new Promise((r) => setTimeout(r, 300));
	}
	throw new Error(`Tribune did not become healthy on ${base} within ${timeoutMs / 1000} s`);
}

async function main(): Promise<void> {
	const launcher = spawn(process.execPath, [fileURLToPath(new URL('./start.js', import.meta.url))], {
		// Open hosting: the demo creates its space anonymously, and so may anyone trying it (never the default).
		env: { ...process.env, SYNTHETIC_SPEAKERS: 'true', TRIBUNE_OPEN_HOSTING: 'true', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', PORT: String(port) },
		stdio: ['ignore', 'inherit', 'inherit'],
	});
	const stop = (): void => {
		launcher.kill('SIGTERM');
	};
	process.on('SIGINT', stop);
	process.on('SIGTERM', stop);
	launcher.once('exit', (code) => process.exit(code ?? 0));
	try {
		await waitForHealthy(60_000);
		const created = await request('/api/spaces', {
			...demoSpace,
			// Captions as a track listeners turn on; recorded, so the replay and the transcript exist.
			settings: { captionMode: 'sidecar', recording: true },
		});
		const space = created.space as { id: string };
		const hostToken = created.token as string;
		await request(`/api/spaces/${space.id}/start`, {}, hostToken);
		await request(`/api/spaces/${space.id}/synthetic-conversation`, demoConversation, hostToken);
		const lines = [
			'',
			'Tribune demo is live.',
			`  Listen:      http://localhost:${port}/s/${space.id}`,
			`  Space API:   http://localhost:${port}/api/spaces/${space.id}`,
			`  Host token:  ${hostToken}`,
			'Three synthetic speakers take turns, looped. Try: captions on in the player, raising your hand as a listener,',
			'and the replay of this recorded space once it ends.',
			'Ctrl-C stops it.',
			'',
		];
		process.stdout.write(lines.join('\n'));
	} catch (error) {
		process.stderr.write(`demo: ${error instanceof Error ? error.message : String(error)}\n`);
		stop();
	}
}

void main();
