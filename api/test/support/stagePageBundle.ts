import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { build } from 'vite';

const playerDir = path.resolve(import.meta.dirname, '../../../player');

/**
 * Builds player/test/stagePage.ts (the player's stage client plus a `window.tribune` test handle) into one IIFE
 * script with vite, and serves it with a blank page on a loopback port: a secure context, so getUserMedia works.
 */
export async function serveStagePage(): Promise<{ url: string; close(): Promise<void> }> {
	const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-stage-page-'));
	await build({
		configFile: false,
		logLevel: 'warn',
		root: playerDir,
		build: {
			outDir,
			emptyOutDir: true,
			minify: false,
			sourcemap: false,
			lib: { entry: path.join(playerDir, 'test/stagePage.ts'), formats: ['iife'], name: 'TribuneStagePage', fileName: () => 'stage.js' },
		},
	});
	const script = fs.readFileSync(path.join(outDir, 'stage.js'));
	fs.rmSync(outDir, { recursive: true, force: true });
	const server = http.createServer((req, res) => {
		if (req.url === '/stage.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
		else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><html><body><script src="/stage.js"></script></body></html>');
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	return {
		url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
		close: () => new Promise<void>((resolve) => server.close(() => resolve())),
	};
}
