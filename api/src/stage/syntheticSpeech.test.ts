import { describe, expect, it } from 'vitest';
import { demoConversation } from '../demoConversation.js';
import { syntheticConversationBody } from './syntheticSpeakerRequests.js';
import { conversationTracks, conversationTurns, leadMs, speechRate } from './syntheticSpeech.js';

describe('a scripted conversation', () => {
	const lines = [
		{ speaker: 0, lengthMs: 2000 },
		{ speaker: 1, lengthMs: 3000 },
		{ speaker: 1, lengthMs: 1000 },
		{ speaker: 2, lengthMs: 2500 },
		{ speaker: 0, lengthMs: 1500 },
		{ speaker: 2, lengthMs: 1800 },
		{ speaker: 1, lengthMs: 900 },
	];

	it('takes turns in order: every line ends before the next starts, across the loop too, with pauses that vary', () => {
		const { turns, loopMs } = conversationTurns(lines, 1000);
		expect(turns.map((t) => t.speaker)).toEqual(lines.map((l) => l.speaker));
		expect(turns[0]!.startMs).toBe(leadMs);
		const gaps = turns.map((t, i) => (turns[i + 1]?.startMs ?? loopMs + turns[0]!.startMs) - t.endMs);
		expect(Math.min(...gaps)).toBeGreaterThan(0);
		// Another speaker answers after a pause of 0.75–1.3 × the asked one; the same speaker goes on sooner; the loop's
		// last pause (plus the lead) is the longest.
		const answers = gaps.slice(0, -1).filter((_, i) => lines[i + 1]!.speaker !== lines[i]!.speaker);
		expect(Math.min(...answers)).toBeGreaterThanOrEqual(750);
		expect(Math.max(...answers)).toBeLessThanOrEqual(1300);
		expect(new Set(answers).size).toBeGreaterThan(2);
		expect(gaps[1]).toBe(500);
		expect(gaps.at(-1)).toBe(1500 + leadMs);
	});

	it("gives each speaker a track as long as the loop, holding only their own lines at their turns", () => {
		const { turns, loopMs } = conversationTurns(lines, 1000);
		const speech = lines.map((l, i) => new Int16Array((l.lengthMs * speechRate) / 1000).fill(i + 1));
		const tracks = conversationTracks(3, turns, speech, loopMs);
		for (const track of tracks) expect(track.length).toBe((loopMs * speechRate) / 1000);
		for (const [s, track] of tracks.entries()) {
			const heard = new Set(track.filter((v) => v !== 0));
			expect([...heard].sort()).toEqual(lines.flatMap((l, i) => (l.speaker === s ? [i + 1] : [])).sort());
		}
		// Never two speakers at once.
		for (let i = 0; i < tracks[0]!.length; i += 16) expect(tracks.filter((t) => t[i] !== 0).length).toBeLessThanOrEqual(1);
	});

	it('validates requests: voices, bounds, plain text', () => {
		expect(syntheticConversationBody.safeParse(demoConversation).success).toBe(true);
		const bad = [
			{ ...demoConversation, speakers: [{ displayName: 'A', voice: 'robot' }] },
			{ ...demoConversation, speakers: Array.from({ length: 7 }, (_, i) => ({ displayName: `S${i}` })) },
			{ ...demoConversation, lines: Array.from({ length: 25 }, () => ({ speaker: 0, text: 'hi' })) },
			{ ...demoConversation, lines: [{ speaker: 0, text: 'hi\u202Eereht' }] },
			{ ...demoConversation, lines: [{ speaker: -1, text: 'hi' }] },
			{ ...demoConversation, pauseMs: 60_000 },
			{ ...demoConversation, extra: true },
		];
		for (const body of bad) expect(syntheticConversationBody.safeParse(body).success).toBe(false);
	});
});
