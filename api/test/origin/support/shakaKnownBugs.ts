import fs from 'node:fs';
import { createRequire, SourceMap } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * Errors Shaka Player raises on valid input by a bug of its own, told apart from every other error by where Shaka
 * threw: the first frames of the stack the test page records (shakaPage.ts) are read through the source map Shaka
 * ships with the compiled script the page runs, so a match names a line of Shaka's source, not a minified location.
 * A test that must see no Shaka error counts and reports these and fails on anything else.
 */
export interface KnownShakaBug {
	/** Short stable name, for logs. */
	id: string;
	/** Where upstream the bug is described or was introduced. */
	upstream: string;
	/** The exact text of the error's kind, name and message, as the test page writes it. */
	head: string;
	/** The original-source origin (file suffix and mapped name) of each of the first stack frames, innermost first. */
	frames: readonly { file: string; name: string }[];
}

/**
 * Shaka 5.2 (shaka-project/shaka-player#10267, commit cd70c0239 "Report accurate playhead date across
 * PROGRAM-DATE-TIME discontinuities"; still so on main at 35b290e41 and in 5.2.12) ends every live media playlist update
 * (`HlsParser.updateStream_`) with `setProgramDateTimeRegionsFromIndex_`, which iterates the video segment index with
 * `for (const reference of stream.segmentIndex)`. `SegmentIndex[Symbol.iterator]` returns `getIteratorForTime(0)`, null
 * for an empty index (only a debug assertion, 'Iterator for 0 should never be null!', says otherwise), and the index is
 * empty when the update's `mergeAndEvict`/`evict` drop every reference: Shaka's live edge runs on the wall clock from
 * where it loaded (`PresentationTimeline.getLiveEdge_`, start time locked), so once the playlist's newest media ends
 * further behind that edge than it did at load by more than Shaka's availability window, every segment counts as gone.
 * That window is recomputed on each update from the index Shaka has just evicted (`getLiveDuration_`: newest end less
 * earliest start), so it is at most the playlist's length (~11 s) and shrinks while the media lags; joining a stream
 * 4 segments old, as shaka.test.ts does, it was 4.4 s, and an encoder running 2–5 s late on a busy machine sufficed.
 * Tribune's playlists are valid then (llhlsChecker finds nothing: a slow encoder's parts simply come late, and blocking
 * reloads wait for them, RFC 8216bis §6.2.5.2). Shaka reports the TypeError as a recoverable 'error' event and retries
 * the update 0.1 s later (`HlsParser.onUpdate_`), once per update until the playlist is back inside its window.
 */
export const emptySegmentIndexInPdtRegions: KnownShakaBug = {
	id: 'shaka#10267 empty SegmentIndex in setProgramDateTimeRegionsFromIndex_',
	upstream: 'https://github.com/shaka-project/shaka-player/pull/10267 (cd70c0239)',
	head: "not a shaka.util.Error: TypeError: Cannot read properties of null (reading 'next') TypeError: Cannot read properties of null (reading 'next')",
	frames: [
		// `for (const reference of stream.segmentIndex)`: the compiled loop calls `.next` of the null iterator.
		{ file: 'lib/hls/hls_parser.js', name: 'segmentIndex' },
		// Its caller, at the call of `this.setProgramDateTimeRegionsFromIndex_(...)`.
		{ file: 'lib/hls/hls_parser.js', name: 'setProgramDateTimeRegionsFromIndex_' },
	],
};

export const knownShakaBugs: readonly KnownShakaBug[] = [emptySegmentIndexInPdtRegions];

let compiledMap: SourceMap | undefined;
/** The source map of shaka-player.compiled.js, the script shakaPage.ts serves. */
function shakaSourceMap(): SourceMap {
	compiledMap ??= new SourceMap(JSON.parse(fs.readFileSync(require.resolve('shaka-player/dist/shaka-player.compiled.map'), 'utf8')));
	return compiledMap;
}

/** The original file and name of each stack frame in shaka-player.compiled.js, innermost first, until another file's. */
function shakaFrames(error: string): { file: string; name: string | undefined }[] {
	const frames: { file: string; name: string | undefined }[] = [];
	for (const line of error.split('\n').slice(1)) {
		const frame = /^\s*at (?:.* \()?(\S+?):(\d+):(\d+)\)?$/.exec(line);
		if (!frame || !frame[1]!.endsWith('/shaka-player.compiled.js')) break;
		const origin = shakaSourceMap().findOrigin(Number(frame[2]), Number(frame[3]));
		if (!('fileName' in origin)) break;
		frames.push({ file: origin.fileName, name: origin.name });
	}
	return frames;
}

/** The known bug `error` (one entry of `ShakaSample.errors`) is, if any. */
export function knownShakaBugOf(error: string): KnownShakaBug | undefined {
	const firstLine = error.split('\n', 1)[0];
	return knownShakaBugs.find((bug) => {
		if (firstLine !== bug.head) return false;
		const frames = shakaFrames(error);
		return bug.frames.every((want, i) => frames[i] !== undefined && frames[i].file.endsWith(want.file) && frames[i].name === want.name);
	});
}

/** `errors` split into the known Shaka bugs (with how many times each occurred) and everything else. */
export function splitKnownShakaBugs(errors: readonly string[]): { known: { bug: KnownShakaBug; count: number }[]; others: string[] } {
	const counts = new Map<KnownShakaBug, number>();
	const others: string[] = [];
	for (const error of errors) {
		const bug = knownShakaBugOf(error);
		if (bug) counts.set(bug, (counts.get(bug) ?? 0) + 1);
		else others.push(error);
	}
	return { known: [...counts].map(([bug, count]) => ({ bug, count })), others };
}
