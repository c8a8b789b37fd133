import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadTokenSecret } from './loadTokenSecret.js';

const dirs: string[] = [];
function tempDir(): string {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-secret-'));
	dirs.push(dir);
	return path.join(dir, 'data');
}
afterEach(() => {
	for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe('loadTokenSecret()', () => {
	it('uses a configured secret as is', () => {
		const secret = 's'.repeat(40);
		expect(Buffer.from(loadTokenSecret(secret, tempDir())).toString()).toBe(secret);
	});

	it('refuses a configured secret shorter than 32 bytes', () => {
		expect(() => loadTokenSecret('short', tempDir())).toThrow(/at least 32 bytes/);
	});

	it('generates a secret on first start, stores it with mode 0600 and reuses it afterwards', () => {
		const dir = tempDir();
		const first = loadTokenSecret(undefined, dir);
		const file = path.join(dir, 'token-secret');
		expect(fs.statSync(file).mode & 0o777).toBe(0o600);
		expect(Buffer.from(loadTokenSecret(undefined, dir))).toEqual(Buffer.from(first));
		expect(Buffer.from(loadTokenSecret(undefined, tempDir()))).not.toEqual(Buffer.from(first));
	});

	it('refuses a stored secret that is too short instead of signing with it', () => {
		const dir = tempDir();
		fs.mkdirSync(dir, { recursive: true });
		fs.writeFileSync(path.join(dir, 'token-secret'), 'abc');
		expect(() => loadTokenSecret(undefined, dir)).toThrow(/does not hold a 32-byte key/);
	});
});
