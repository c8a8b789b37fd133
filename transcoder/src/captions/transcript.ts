import type { CaptionCue } from './captionFeed.js';
import { timelineDurationS, wallClockToTimelineS, type TimelineSegmentClock } from './mediaTimeMapping.js';

/** One line of a space's transcript, timed on the replay (0 = the replay's first media instant), seconds. */
export interface TranscriptCue {
	startS: number;
	endS: number;
	speakerId?: string;
	speakerName: string;
	text: string;
}

/** What `transcript.json` holds; the api reads it for the replay's speaker timeline. */
export interface TranscriptJson {
	cues: TranscriptCue[];
}

/** The transcript files, by name, as written next to the replay playlists. */
export const transcriptFileNames = ['transcript.vtt', 'transcript.srt', 'transcript.txt', 'transcript.json'] as const;

/**
 * The transcript of a space from its final cues (the durable caption log) and the replay's segments (first rendition,
 * in playlist order, gap placeholders included): each cue at its real time on the replay's timeline, in order of
 * start, milliseconds rounded. The transcript is the replay's: a cue is kept for the part of it the replay holds.
 * - One that began before the replay's first media instant (while the first encoder run was starting) starts at 0
 *   and keeps its real end; one spoken wholly before it is not in the replay and is left out (placing it at 0 would
 *   stack every such cue there, as it once did with nine).
 * - At the end: one running past it ends there, and one said wholly after it is kept at the end, in the order said
 *   (the replay's last dates can be late by its encode delay, so the last words before the stop can map past them;
 *   a transcript must not lose them).
 * - One said in time lost between two runs (a restart, a takeover) sits at the join, where the replay goes on, in the
 *   order it was said; one spanning the join keeps its real times on both sides.
 * A cue whose end precedes its start lasts from its start; one without finite times is left out.
 */
export function buildTranscript(cues: readonly CaptionCue[], segments: readonly TimelineSegmentClock[]): TranscriptCue[] {
	const seen = new Set<string>();
	const out: (TranscriptCue & { saidAtMs: number })[] = [];
	const endOfReplayS = timelineDurationS(segments);
	for (const cue of cues) {
		if (!cue.final || seen.has(cue.id)) continue;
		seen.add(cue.id);
		if (!Number.isFinite(cue.startMs) || !Number.isFinite(cue.endMs) || segments.length === 0) continue;
		const realStartS = wallClockToTimelineS(cue.startMs, segments);
		const realEndS = Math.max(realStartS, wallClockToTimelineS(cue.endMs, segments));
		// Wholly before the media's first instant: not in the replay.
		if (realEndS < 0 || (realEndS === 0 && realStartS < 0)) continue;
		const startS = round3(Math.min(endOfReplayS, Math.max(0, realStartS)));
		const endS = Math.max(startS, round3(Math.min(endOfReplayS, realEndS)));
		out.push({ saidAtMs: cue.startMs, startS, endS, ...(cue.speakerId !== undefined && { speakerId: cue.speakerId }), speakerName: cue.speakerName, text: cue.text });
	}
	// Cues at one instant (a join) in the order they were said.
	return out.sort((a, b) => a.startS - b.startS || a.saidAtMs - b.saidAtMs || a.endS - b.endS).map(({ saidAtMs: _, ...cue }) => cue);
}

const round3 = (s: number): number => Math.round(s * 1000) / 1000;

/** WebVTT: one cue per utterance with the speaker as a voice span. */
export function renderTranscriptVtt(cues: readonly TranscriptCue[]): string {
	const blocks = cues.map((cue, i) => `${i + 1}\n${clock(cue.startS, '.')} --> ${clock(displayEnd(cue), '.')}\n<v ${vttEscape(oneLine(cue.speakerName))}>${vttEscape(oneLine(cue.text))}</v>`);
	return ['WEBVTT', '', ...blocks.map((b) => `${b}\n`)].join('\n');
}

/** SubRip: numbered cues, comma decimal separator, the speaker's name leading the text. */
export function renderTranscriptSrt(cues: readonly TranscriptCue[]): string {
	return cues.map((cue, i) => `${i + 1}\n${clock(cue.startS, ',')} --> ${clock(displayEnd(cue), ',')}\n${oneLine(cue.speakerName)}: ${oneLine(cue.text)}\n`).join('\n');
}

/** Plain text: `[hh:mm:ss] Name: text`, one utterance per line. */
export function renderTranscriptTxt(cues: readonly TranscriptCue[]): string {
	return cues.map((cue) => `[${clock(cue.startS, '.').slice(0, 8)}] ${oneLine(cue.speakerName)}: ${oneLine(cue.text)}\n`).join('');
}

export function renderTranscriptJson(cues: readonly TranscriptCue[]): string {
	const json: TranscriptJson = { cues: [...cues] };
	return `${JSON.stringify(json, null, '\t')}\n`;
}

/** The four files, by name. */
export function renderTranscriptFiles(cues: readonly TranscriptCue[]): Record<(typeof transcriptFileNames)[number], string> {
	return {
		'transcript.vtt': renderTranscriptVtt(cues),
		'transcript.srt': renderTranscriptSrt(cues),
		'transcript.txt': renderTranscriptTxt(cues),
		'transcript.json': renderTranscriptJson(cues),
	};
}

/** Subtitle formats need a cue to last: an utterance squeezed into a gap gets a short moment on screen. */
function displayEnd(cue: TranscriptCue): number {
	return Math.max(cue.endS, cue.startS + 0.5);
}

function clock(seconds: number, decimal: '.' | ','): string {
	const totalMs = Math.max(0, Math.round(seconds * 1000));
	const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
	const h = Math.floor(totalMs / 3_600_000);
	const m = Math.floor(totalMs / 60_000) % 60;
	const s = Math.floor(totalMs / 1000) % 60;
	return `${pad(h)}:${pad(m)}:${pad(s)}${decimal}${pad(totalMs % 1000, 3)}`;
}

/** Names and text on one line: a line break would end an SRT or WebVTT cue, or start a fake transcript line. */
function oneLine(text: string): string {
	// eslint-disable-next-line no-control-regex
	return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').replace(/\s+/g, ' ').trim();
}

function vttEscape(text: string): string {
	return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
