import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadApiConfig } from '../config.js';
import { loadOperatorKey, operatorKeyMatches } from './OperatorKey.js';

const dirs: string[] = [];
function tempDir(): string {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-operator-key-'));
	dirs.push(dir);
	return dir;
}

describe('loadOperatorKey', () => {
	afterEach(() => {
		for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
	});

	it('takes a configured key as it is, and writes no file', () => {
		const dir = tempDir();
		const key = loadOperatorKey('k'.repeat(32), dir);
		expect(key).toEqual({ key: 'k'.repeat(32), fromDataDir: false });
		expect(fs.existsSync(path.join(dir, 'admin-key'))).toBe(false);
	});

	it('refuses a configured key shorter than 32 characters or with spaces', () => {
		expect(() => loadOperatorKey('k'.repeat(31), tempDir())).toThrow(/at least 32/);
		expect(() => loadOperatorKey(`${'k'.repeat(32)} x`, tempDir())).toThrow(/without spaces/);
	});

	it('generates a key once into <dataDir>/admin-key with mode 0600, and reads the same one after', () => {
		const dir = path.join(tempDir(), 'nested');
		const first = loadOperatorKey(undefined, dir);
		expect(first.fromDataDir).toBe(true);
		expect(first.key).toMatch(/^[A-Za-z0-9_-]{43}$/);
		expect(fs.statSync(path.join(dir, 'admin-key')).mode & 0o777).toBe(0o600);
		expect(loadOperatorKey(undefined, dir).key).toBe(first.key);
	});

	it('refuses a key file that holds too short a key', () => {
		const dir = tempDir();
		fs.writeFileSync(path.join(dir, 'admin-key'), 'short', { mode: 0o600 });
		expect(() => loadOperatorKey(undefined, dir)).toThrow(/delete it/);
	});

	it('matches only `Bearer <key>` exactly', () => {
		const key = { key: 'k'.repeat(40), fromDataDir: false };
		expect(operatorKeyMatches(`Bearer ${'k'.repeat(40)}`, key)).toBe(true);
		for (const header of [undefined, '', 'Bearer', `Bearer ${'k'.repeat(39)}`, `Bearer ${'k'.repeat(41)}`, `Basic ${'k'.repeat(40)}`]) {
			expect(operatorKeyMatches(header, key)).toBe(false);
		}
	});

	it('TRIBUNE_ADMIN_KEY is validated with the rest of the configuration, naming it', () => {
		expect(() => loadApiConfig({ REDIS_URL: 'redis://127.0.0.1:6379', TRIBUNE_ADMIN_KEY: 'too short' })).toThrow(/TRIBUNE_ADMIN_KEY/);
		expect(loadApiConfig({ REDIS_URL: 'redis://127.0.0.1:6379', TRIBUNE_ADMIN_KEY: 'k'.repeat(32) }).adminKey).toBe('k'.repeat(32));
		expect(() => loadApiConfig({ REDIS_URL: 'redis://127.0.0.1:6379', HOST_CREDENTIAL_TTL_S: '60' })).toThrow(/HOST_CREDENTIAL_TTL_S/);
	});
});
