/** One cue of a replay's `transcript.json`, times in seconds on the replay's timeline (0 = its first instant). */
export interface TranscriptCue {
	startS: number;
	endS: number;
	speakerId?: string;
	speakerName: string;
	text: string;
}

/** A stretch of time one speaker talked, and what they said in it. */
export interface SpeakerTurn {
	startS: number;
	endS: number;
	text: string;
}

export interface TimelineSpeaker {
	key: string;
	name: string;
	/** Colour slot, in order of first speech. */
	slot: number;
	turns: SpeakerTurn[];
	/** Seconds spoken in all. */
	totalS: number;
}

export interface SpeakerTimeline {
	speakers: TimelineSpeaker[];
	/** The end of the last cue, seconds (the timeline's width when the replay's duration is not known). */
	endS: number;
}

/** Cues of one speaker closer than this are one turn, seconds. */
const joinGapS = 2;
/** Turns shown at most per speaker (a long space would otherwise draw thousands of slivers). */
const maxTurnsPerSpeaker = 300;

/**
 * Who spoke when, from a transcript: per speaker (in order of first speech), their turns, where cues of the same
 * speaker less than 2 s apart join. Pure; bad cues (non-finite or reversed times, no text) are skipped.
 */
export function speakerTimeline(cues: readonly TranscriptCue[]): SpeakerTimeline {
	const bySpeaker = new Map<string, TimelineSpeaker>();
	const valid = cues
		.filter((c) => Number.isFinite(c.startS) && Number.isFinite(c.endS) && c.endS >= c.startS && c.startS >= 0 && typeof c.text === 'string' && c.text.trim() !== '')
		.sort((a, b) => a.startS - b.startS);
	let endS = 0;
	for (const cue of valid) {
		const key = cue.speakerId ?? `name:${cue.speakerName}`;
		let speaker = bySpeaker.get(key);
		if (!speaker) {
			speaker = { key, name: cue.speakerName || 'Unknown speaker', slot: bySpeaker.size, turns: [], totalS: 0 };
			bySpeaker.set(key, speaker);
		}
		const last = speaker.turns.at(-1);
		if (last && (cue.startS - last.endS < joinGapS || speaker.turns.length >= maxTurnsPerSpeaker)) {
			last.endS = Math.max(last.endS, cue.endS);
			last.text = `${last.text} ${cue.text.trim()}`;
		} else {
			speaker.turns.push({ startS: cue.startS, endS: cue.endS, text: cue.text.trim() });
		}
		endS = Math.max(endS, cue.endS);
	}
	for (const s of bySpeaker.values()) s.totalS = s.turns.reduce((sum, t) => sum + (t.endS - t.startS), 0);
	return { speakers: [...bySpeaker.values()], endS };
}

/** `m:ss` (or `h:mm:ss`) for a time in seconds. */
export function clockOf(seconds: number): string {
	const s = Math.max(0, Math.floor(seconds));
	const h = Math.floor(s / 3600);
	const m = Math.floor((s % 3600) / 60);
	const ss = String(s % 60).padStart(2, '0');
	return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** Parses a fetched `transcript.json`; undefined when it is not one. */
export function parseTranscript(json: unknown): TranscriptCue[] | undefined {
	if (typeof json !== 'object' || json === null || !Array.isArray((json as { cues?: unknown }).cues)) return undefined;
	return ((json as { cues: unknown[] }).cues).flatMap((c): TranscriptCue[] => {
		if (typeof c !== 'object' || c === null) return [];
		const { startS, endS, speakerId, speakerName, text } = c as Record<string, unknown>;
		if (typeof startS !== 'number' || typeof endS !== 'number' || typeof text !== 'string') return [];
		return [{ startS, endS, text, speakerName: typeof speakerName === 'string' ? speakerName : 'Unknown speaker', ...(typeof speakerId === 'string' && { speakerId }) }];
	});
}
