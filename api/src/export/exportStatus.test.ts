import { describe, expect, it } from 'vitest';
import { exportStatus, replayDownloadName } from './exportStatus.js';

const url = '/api/spaces/abc/replay.mp4';

describe('exportStatus()', () => {
	it('shows an export in progress with its percent, even over an older file', () => {
		expect(exportStatus({ state: 'running', percent: 42 }, { bytes: 10 }, url)).toEqual({ state: 'running', percent: 42 });
		expect(exportStatus({ state: 'waiting', percent: 0 }, undefined, url)).toEqual({ state: 'waiting', percent: 0 });
		expect(exportStatus({ state: 'queued', percent: 0, error: 'the replay is not complete after 60 s' }, undefined, url)).toEqual({ state: 'queued', percent: 0 });
	});

	it('is ready when the file is on disk, whether or not its job is still remembered', () => {
		const ready = { state: 'ready', percent: 100, bytes: 1234, url };
		expect(exportStatus({ state: 'completed', percent: 100 }, { bytes: 1234 }, url)).toEqual(ready);
		expect(exportStatus({ state: 'none', percent: 0 }, { bytes: 1234 }, url)).toEqual(ready);
	});

	it('reports a failure with its reason', () => {
		expect(exportStatus({ state: 'failed', percent: 0, error: 'the replay has no media' }, undefined, url)).toEqual({ state: 'failed', percent: 0, error: 'the replay has no media' });
	});

	it('is none when there is no job, or the MP4 of a completed job is not on this disk', () => {
		expect(exportStatus({ state: 'none', percent: 0 }, undefined, url)).toEqual({ state: 'none', percent: 0 });
		expect(exportStatus({ state: 'completed', percent: 100 }, undefined, url)).toEqual({ state: 'none', percent: 0 });
	});
});

describe('replayDownloadName()', () => {
	it.each([
		['Friday Town Hall', 'Friday-Town-Hall.mp4'],
		['Café "crème" / brûlée?', 'Cafe-creme-brulee.mp4'],
		['../../etc/passwd', 'etc-passwd.mp4'],
		['Q&A: 2026\r\nContent-Type: text/html', 'Q-A-2026-Content-Type-text-html.mp4'],
		['日本語', 'tribune-replay-abc.mp4'],
		[undefined, 'tribune-replay-abc.mp4'],
	])('%j → %s', (title, name) => {
		expect(replayDownloadName(title, 'abc')).toBe(name);
	});

	it('keeps names short', () => {
		expect(replayDownloadName('x'.repeat(500), 'abc')).toBe(`${'x'.repeat(80)}.mp4`);
	});
});
