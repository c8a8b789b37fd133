import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pruneReplays } from './pruneReplays.js';

const day = 24 * 3600 * 1000;

describe('pruneReplays', () => {
	const roots: string[] = [];
	afterEach(() => {
		for (const root of roots.splice(0)) fs.rmSync(root, { recursive: true, force: true });
	});

	function stream(root: string, id: string, endedAtMs: number | undefined): void {
		fs.mkdirSync(path.join(root, id, '360p'), { recursive: true });
		fs.writeFileSync(path.join(root, id, '360p', 'seg-0.m4s'), 'x');
		if (endedAtMs !== undefined) fs.writeFileSync(path.join(root, id, 'stream.json'), JSON.stringify({ endedAtMs }));
	}

	it('removes replays that ended longer ago than the retention, and keeps the rest', async () => {
		const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-prune-'));
		roots.push(root);
		const now = Date.now();
		stream(root, 'old', now - 8 * day);
		stream(root, 'recent', now - 6 * day);
		stream(root, 'live', undefined);
		fs.mkdirSync(path.join(root, 'not.a.stream'));
		expect(await pruneReplays(root, 7 * day, now)).toEqual(['old']);
		expect(fs.readdirSync(root).sort()).toEqual(['live', 'not.a.stream', 'recent']);
		// A stream whose packager died stops changing; it goes once its files are older than the retention.
		expect(await pruneReplays(root, 7 * day, now + 8 * day)).toEqual(['live', 'recent']);
	});

	it('keeps everything with retention 0 and tolerates a missing root', async () => {
		expect(await pruneReplays('/nonexistent/tribune', 7 * day, Date.now())).toEqual([]);
		const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-prune-'));
		roots.push(root);
		stream(root, 'old', 0);
		expect(await pruneReplays(root, 0, Date.now())).toEqual([]);
	});
});
