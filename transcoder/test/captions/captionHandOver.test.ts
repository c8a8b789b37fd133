import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CaptionFinal, type CaptionPartial } from '../../src/captions/CaptionEngine.js';
import { resultFrom, type WallClockResult } from '../../src/captions/SpeakerCaptioner.js';
import { normaliseWords, wordErrors } from '../../src/captions/wordErrorRate.js';
import { assertBuilt, collectingEngine, feedAll } from './support/engineHarness.js';
import { concatPcm, fliteSpeech, silence, speechSpanMs } from './support/fliteSpeech.js';

/**
 * The hand-over of a speaker's captions from one recogniser to its replacement (new words: `CaptionSession`,
 * `SpeakerCaptioner.captionFrom`), with two real PocketSphinx recognisers on one speaker's audio: the old one hears
 * it all, the new one from the middle of a sentence, as when it finished loading while the speaker talked. The new
 * one's results go through `resultFrom` at the end of the old one's last final, on one clock (in the session, the wall
 * clock both captioners' PCM arrival is mapped to; the new one's is put `jitterMs` early and late, as its own decoder
 * may write the same audio a little before or after the old one's).
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-handover-'));
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
	for (const close of closers.splice(0)) await close();
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const first = 'Please raise your hand if you want to say something.';
const second = 'Welcome back to the show, it is great to have you here with us again.';
/** Two decoders of one producer write the same audio a few tens of ms apart. */
const jitterMs = 40;

/** A recogniser's results on the speaker's clock: it heard the audio from `offsetMs` on. */
function onSpeakerClock(result: CaptionPartial | CaptionFinal, offsetMs: number): WallClockResult {
	const final = 'words' in result;
	const words = final ? result.words.map((w) => ({ ...w, startMs: w.startMs + offsetMs, endMs: w.endMs + offsetMs })) : [];
	return { utteranceId: result.utteranceId, text: result.text, final, startMs: result.startMs + offsetMs, endMs: result.endMs + offsetMs, words };
}

/** Everything a recogniser said of `samples`, in order; stopped at their end, as a captioner's close stops it. */
async function recognise(samples: Int16Array): Promise<(CaptionPartial | CaptionFinal)[]> {
	const harness = collectingEngine();
	closers.push(() => harness.engine.stop());
	const results: (CaptionPartial | CaptionFinal)[] = [];
	harness.engine.on('partial', (p) => results.push(p));
	harness.engine.on('final', (f) => results.push(f));
	await harness.engine.start();
	feedAll((chunk) => harness.engine.feed(chunk), samples);
	await harness.engine.stop();
	expect(harness.errors).toEqual([]);
	return results.filter((r) => r.text !== '');
}

const text = (results: readonly WallClockResult[]): string => results.filter((r) => r.final).map((r) => r.text).join(' ');

describe('a recogniser replaced mid-sentence hands its captions over', () => {
	/** What the old recogniser said, heard until the middle of the second sentence (a hand-over cut short). */
	let old: WallClockResult[];
	/** What the new recogniser said, heard from the middle of the first sentence, one clock per jitter. */
	let next: Map<number, WallClockResult[]>;
	beforeAll(async () => {
		assertBuilt();
		const a = fliteSpeech(dir, 'first', first, 'slt');
		const b = fliteSpeech(dir, 'second', second, 'slt');
		const lead = 500;
		const gap = 1500;
		const speech = concatPcm(silence(lead), a, silence(gap), b, silence(1500));
		const [spanA, spanB] = [speechSpanMs(a), speechSpanMs(b)];
		const fromMs = lead + (spanA.startMs + spanA.endMs) / 2;
		const cutMs = lead + a.length / 16 + gap + (spanB.startMs + spanB.endMs) / 2;
		const [heardByOld, heardByNext] = await Promise.all([recognise(speech.slice(0, cutMs * 16)), recognise(speech.slice(fromMs * 16))]);
		old = heardByOld.map((r) => onSpeakerClock(r, 0));
		next = new Map([-jitterMs, jitterMs].map((jitter) => [jitter, heardByNext.map((r) => onSpeakerClock(r, fromMs + jitter))]));
	}, 60_000);

	it("at the end of the old one's utterance: the new one's, begun mid-sentence, is not shown; the next sentence is, whole", () => {
		const oldFinal = old.find((r) => r.final)!;
		expect(wordErrors(first, oldFinal.text).errors, oldFinal.text).toBeLessThanOrEqual(1);
		const handOverMs = oldFinal.endMs;
		for (const [jitter, results] of next) {
			// The new recogniser did caption the end of the first sentence, partials and final: all of it is dropped.
			const midSentence = results.filter((r) => r.startMs < handOverMs);
			expect(midSentence.some((r) => r.final && normaliseWords(r.text).includes('something')), JSON.stringify(results)).toBe(true);
			expect(midSentence.some((r) => !r.final)).toBe(true);
			const shown = results.map((r) => resultFrom(r, handOverMs)).filter((r) => r !== undefined);
			expect(shown.filter((r) => r.startMs < handOverMs), `jitter ${jitter} ms`).toEqual([]);
			const own = results.filter((r) => r.final && r.startMs >= handOverMs);
			expect(text(shown), `jitter ${jitter} ms`).toBe(text(own));
			expect(wordErrors(second, text(shown)).errors, text(shown)).toBeLessThanOrEqual(2);
		}
	});

	it("at a cut (the wait for the old one's utterance ran out): its cut final and the new one's words after it make the sentences, no word twice or lost", () => {
		const cut = old.filter((r) => r.final).at(-1)!;
		expect(normaliseWords(cut.text).length, cut.text).toBeLessThan(normaliseWords(second).length - 3);
		for (const [jitter, results] of next) {
			const shown = results.map((r) => resultFrom(r, cut.endMs)).filter((r) => r !== undefined);
			const together = `${text(old)} ${text(shown)}`;
			// The hand-over adds no error to the recognisers' own: what the old one said of the first sentence and the new
			// one of the whole second sentence (both heard it from its start).
			const wholeSecond = results.find((r) => r.final && r.startMs > cut.startMs - 500)!;
			const ownErrors = wordErrors(first, old.find((r) => r.final)!.text).errors + wordErrors(second, wholeSecond.text).errors;
			expect(wordErrors(`${first} ${second}`, together).errors, `jitter ${jitter} ms: ${together}`).toBeLessThanOrEqual(ownErrors);
			expect(normaliseWords(together).length, `jitter ${jitter} ms: ${together}`).toBe(normaliseWords(`${first} ${second}`).length);
		}
	});
});
