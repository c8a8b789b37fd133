import fs from 'node:fs/promises';
import path from 'node:path';
import { isStreamId } from './hlsNames.js';

/**
 * Deletes replays older than the retention: a finished stream (its `stream.json` says when it ended) once
 * `retentionMs` have passed since its end, and an unfinished one (its packager died) once nothing in it has changed
 * for that long. `retentionMs` 0 keeps everything. Returns the stream ids removed.
 */
export async function pruneReplays(hlsRoot: string, retentionMs: number, nowMs: number): Promise<string[]> {
	if (retentionMs <= 0) return [];
	let entries: string[];
	try {
		entries = await fs.readdir(hlsRoot);
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
		throw error;
	}
	const removed: string[] = [];
	for (const streamId of entries.filter(isStreamId)) {
		const dir = path.join(hlsRoot, streamId);
		const lastUseMs = await lastUse(dir);
		if (lastUseMs !== undefined && nowMs - lastUseMs > retentionMs) {
			await fs.rm(dir, { recursive: true, force: true });
			removed.push(streamId);
		}
	}
	return removed;
}

async function lastUse(dir: string): Promise<number | undefined> {
	try {
		const stream = JSON.parse(await fs.readFile(path.join(dir, 'stream.json'), 'utf8')) as { endedAtMs?: unknown };
		if (typeof stream.endedAtMs === 'number') return stream.endedAtMs;
	} catch {
		// No stream.json: the broadcast never ended cleanly; fall back to modification times.
	}
	try {
		const children = await fs.readdir(dir, { withFileTypes: true });
		const times = await Promise.all([dir, ...children.filter((c) => c.isDirectory()).map((c) => path.join(dir, c.name))].map(async (d) => (await fs.stat(d)).mtimeMs));
		return Math.max(...times);
	} catch {
		return undefined;
	}
}

/** Runs {@link pruneReplays} now and then every `everyMs`; returns a stop function. Errors go to `onError`. */
export function startReplayPruner(hlsRoot: string, retentionMs: number, everyMs: number, onError: (error: unknown) => void, onRemoved: (ids: string[]) => void): () => void {
	const run = (): void => {
		pruneReplays(hlsRoot, retentionMs, Date.now()).then((ids) => ids.length > 0 && onRemoved(ids), onError);
	};
	run();
	const timer = setInterval(run, everyMs);
	timer.unref();
	return () => clearInterval(timer);
}
