import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { BurnedInCaptions } from './BurnedInCaptions.js';
import type { CaptionCue } from './captionFeed.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-burned-in-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const logger = pino({ level: 'silent' });
const cue = (speakerName: string, text: string, final = false): CaptionCue => ({ spaceId: 's', id: 'u1', speakerName, text, final, startMs: 1, endMs: 2, source: 'asr' });

describe('BurnedInCaptions', () => {
	it('starts with an empty file, shows the latest cue only while enabled, and clears after the hold time', async () => {
		const file = path.join(dir, 'a.txt');
		const captions = await BurnedInCaptions.create({ file, canvas: { width: 1280, height: 720 }, holdMs: 200, logger });
		expect(fs.readFileSync(file, 'utf8')).toBe('');
		captions.show(cue('Ada', 'ignored while disabled'));
		await captions.flushed();
		expect(fs.readFileSync(file, 'utf8')).toBe('');

		captions.setEnabled(true);
		captions.show(cue('Ada', 'hello'));
		captions.show(cue('Ada', 'hello there', true));
		await captions.flushed();
		expect(fs.readFileSync(file, 'utf8')).toBe('Ada: hello there');
		await new Promise((resolve) => setTimeout(resolve, 400));
		await captions.flushed();
		expect(fs.readFileSync(file, 'utf8')).toBe('');

		captions.show(cue('Bob', 'still on'));
		await captions.flushed();
		captions.setEnabled(false);
		await captions.flushed();
		expect(fs.readFileSync(file, 'utf8')).toBe('');
		await captions.close();
		// Atomic replace: no temporary file left behind.
		expect(fs.readdirSync(dir).filter((f) => f.startsWith('a.txt'))).toEqual(['a.txt']);
	});
});
