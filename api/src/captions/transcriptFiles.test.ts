import { describe, expect, it } from 'vitest';
import { transcriptFile } from './transcriptFiles.js';

describe('transcriptFile()', () => {
	it.each([
		['transcript.vtt', 'text/vtt; charset=utf-8'],
		['transcript.srt', 'application/x-subrip; charset=utf-8'],
		['transcript.txt', 'text/plain; charset=utf-8'],
		['transcript.json', 'application/json; charset=utf-8'],
	])('maps %s to its file and content type', (name, contentType) => {
		expect(transcriptFile(name)).toMatchObject({ name, contentType });
	});

	it.each(['transcript.mp4', '../transcript.vtt', 'transcript.vtt/..', 'transcript.VTT', 'stream.json', 'transcript.constructor', 'transcript.__proto__', ''])(
		'refuses %j',
		(name) => {
			expect(transcriptFile(name)).toBeUndefined();
		},
	);
});
