import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const execFileAsync = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const mediasoupVersion = (JSON.parse(fs.readFileSync(path.join(root, 'node_modules/mediasoup/package.json'), 'utf8')) as { version: string }).version;

describe('scripts/build-mediasoup-worker.sh', () => {
	it('reuses the cached worker binary and points mediasoup at it', async () => {
		// `npm run setup` built it already, so this run must be a cache hit (a rebuild takes minutes).
		const started = Date.now();
		const { stdout } = await execFileAsync('bash', [path.join(root, 'scripts/build-mediasoup-worker.sh')], { timeout: 30_000 });
		expect(Date.now() - started).toBeLessThan(30_000);
		const bin = stdout.trim().split('\n').at(-1)!;
		expect(path.basename(bin)).toMatch(new RegExp(`^mediasoup-worker-${mediasoupVersion.replace(/\./g, '\\.')}-[0-9a-f]{12}$`));
		expect(fs.statSync(bin).mode & 0o111).not.toBe(0);
		expect(fs.realpathSync(path.join(root, 'node_modules/mediasoup/worker/out/Release/mediasoup-worker'))).toBe(fs.realpathSync(bin));
	});

	it('links the worker against Debian libraries instead of bundled copies', async () => {
		const bin = fs.realpathSync(path.join(root, 'node_modules/mediasoup/worker/out/Release/mediasoup-worker'));
		const { stdout } = await execFileAsync('ldd', [bin]);
		for (const lib of ['libsrtp2.so', 'libusrsctp.so', 'libuv.so', 'libssl.so.3', 'libcrypto.so.3']) {
			expect(stdout, lib).toMatch(new RegExp(`${lib.replace(/\./g, '\\.')}[^\\n]*=> /(usr/)?lib/`));
		}
	});
});
