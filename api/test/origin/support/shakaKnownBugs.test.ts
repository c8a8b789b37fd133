import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { emptySegmentIndexInPdtRegions, knownShakaBugOf, splitKnownShakaBugs } from './shakaKnownBugs.js';

const require = createRequire(import.meta.url);
const shakaVersion = (require('shaka-player/package.json') as { version: string }).version;

/**
 * What the Shaka test page recorded in player/test/shaka.test.ts with shaka-player 5.2.12's compiled script while the
 * broadcast's encoder was starved (stopped 0.6 s of every second for 30 s): the recoverable error event of a playlist
 * update that emptied the video segment index. The line:column locations are that build's.
 */
const recordedWith = '5.2.12';
const at = (frame: string) => `    at ${frame.replace('@', 'http://127.0.0.1:43781/test/shaka-player.compiled.js:')}`;
const head = "not a shaka.util.Error: TypeError: Cannot read properties of null (reading 'next') TypeError: Cannot read properties of null (reading 'next')";
const frames = ['YD (@1564:109)', 'Ba.i (@1469:459)', 'Fa (@24:40)', 'Ga.next (@25:91)', 'b (@25:330)'].map(at);
const recorded = [head, ...frames].join('\n');

describe('known Shaka bugs', () => {
	it('the recorded fixture is of the installed Shaka build (record it again after an upgrade, and see if the bug is still there)', () => {
		expect(shakaVersion).toBe(recordedWith);
	});

	it('the TypeError of setProgramDateTimeRegionsFromIndex_ iterating an empty segment index is recognised through the source map', () => {
		expect(knownShakaBugOf(recorded)).toBe(emptySegmentIndexInPdtRegions);
	});

	it('the same message thrown anywhere else in Shaka is not', () => {
		// Innermost frame moved to what was the caller's line: another place that reads `.next` of null.
		expect(knownShakaBugOf([head, ...frames.slice(1)].join('\n'))).toBeUndefined();
		expect(knownShakaBugOf([head, frames[0], frames[2]].join('\n'))).toBeUndefined();
		// Thrown from a script other than Shaka's, or with no stack at all.
		expect(knownShakaBugOf([head, '    at YD (http://127.0.0.1:43781/app.js:1564:109)', frames[1]].join('\n'))).toBeUndefined();
		expect(knownShakaBugOf(head)).toBeUndefined();
	});

	it('another message, or a Shaka coded error, at any place is not', () => {
		expect(knownShakaBugOf(recorded.replaceAll("reading 'next'", "reading 'startTime'"))).toBeUndefined();
		expect(knownShakaBugOf(recorded.replace('not a shaka.util.Error: ', 'unhandled '))).toBeUndefined();
		expect(knownShakaBugOf('code 1001 category 1 data ["http://127.0.0.1/hls/x/subs/index.m3u8?_HLS_msn=40",503]')).toBeUndefined();
	});

	it('splitKnownShakaBugs counts the known ones and keeps every other error in order', () => {
		const other = 'code 1001 category 1 data ["http://127.0.0.1/hls/x/360p/part-91.m4s",404]';
		const { known, others } = splitKnownShakaBugs([recorded, other, recorded, 'load: TypeError: x']);
		expect(known).toEqual([{ bug: emptySegmentIndexInPdtRegions, count: 2 }]);
		expect(others).toEqual([other, 'load: TypeError: x']);
		expect(splitKnownShakaBugs([])).toEqual({ known: [], others: [] });
	});
});
