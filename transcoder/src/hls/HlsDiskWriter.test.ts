import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HlsDiskWriter } from './HlsDiskWriter.js';

describe('HlsDiskWriter', () => {
	let root: string;
	beforeEach(async () => {
		root = await fs.mkdtemp(path.join(os.tmpdir(), 'tribune-disk-writer-'));
	});
	afterEach(async () => {
		await fs.rm(root, { recursive: true, force: true });
	});

	it('writes whole files and grown segments under <root>/<streamId>', async () => {
		const disk = new HlsDiskWriter(root, 's1');
		disk.writeFile('a/init-0.mp4', 'init');
		disk.appendToFile('a/seg-1.m4s', Buffer.from('p1'));
		disk.appendToFile('a/seg-1.m4s', Buffer.from('p2'));
		disk.completeFile('a/seg-1.m4s');
		await disk.flush();
		expect(await fs.readFile(path.join(root, 's1/a/init-0.mp4'), 'utf8')).toBe('init');
		expect(await fs.readFile(path.join(root, 's1/a/seg-1.m4s'), 'utf8')).toBe('p1p2');
		expect(disk.error).toBeUndefined();
	});

	it('reports the first failed write once, at once, and keeps going', async () => {
		// A file where the stream's directory should be: every write fails (as on a full disk, with another code).
		await fs.writeFile(path.join(root, 's2'), 'in the way');
		const errors: unknown[] = [];
		const disk = new HlsDiskWriter(root, 's2', { onError: (error) => errors.push(error) });
		disk.writeFile('a/init-0.mp4', 'init');
		disk.appendToFile('a/seg-1.m4s', Buffer.from('p1'));
		await expect(disk.flush()).rejects.toMatchObject({ code: expect.stringMatching(/^(ENOTDIR|EEXIST)$/) });
		expect(errors).toHaveLength(1);
		expect(disk.error).toBe(errors[0]);
		// Later writes are still attempted (space may come back) and do not report again.
		disk.appendLine('a/segments.jsonl', '{}');
		await expect(disk.flush()).rejects.toBe(errors[0]);
		expect(errors).toHaveLength(1);
	});
});
