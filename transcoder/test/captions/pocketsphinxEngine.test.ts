import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { normaliseWords } from '../../src/captions/wordErrorRate.js';
import { assertBuilt, collectingEngine, feedAll } from './support/engineHarness.js';
import { concatPcm, fliteSpeech, silence, speechSpanMs } from './support/fliteSpeech.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-captions-'));
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
	for (const close of closers.splice(0)) await close();
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const first = 'Thank you so much for coming, and have a wonderful evening.';
const second = 'Please raise your hand if you want to say something.';

/** Share of the reference's words that appear in the hypothesis. */
function wordsHeard(reference: string, hypothesis: string): number {
	const heard = new Set(normaliseWords(hypothesis));
	const words = normaliseWords(reference);
	return words.filter((w) => heard.has(w)).length / words.length;
}

function started(options: Parameters<typeof collectingEngine>[0] = {}) {
	const harness = collectingEngine(options);
	closers.push(() => harness.engine.stop());
	return harness;
}

describe('PocketsphinxEngine (libpocketsphinx3 through koffi, in a child process)', () => {
	let speech1: Int16Array;
	let speech2: Int16Array;
	beforeAll(() => {
		assertBuilt();
		speech1 = fliteSpeech(dir, 'first', first, 'slt');
		speech2 = fliteSpeech(dir, 'second', second, 'awb');
	});

	it('recognises a flite sentence: partials first, then a final with most words, timed inside the audio', async () => {
		const { engine, partials, nextFinal } = started();
		await engine.start();
		const leadMs = 700;
		const audio = concatPcm(silence(leadMs), speech1, silence(1500));
		const final = nextFinal();
		feedAll((c) => engine.feed(c), audio);
		const result = await final;

		expect(wordsHeard(first, result.text)).toBeGreaterThanOrEqual(0.75);
		expect(result.interrupted).toBe(false);
		const span = speechSpanMs(speech1);
		const audioMs = (audio.length * 1000) / 16_000;
		for (const w of result.words) {
			expect(w.startMs).toBeGreaterThanOrEqual(0);
			expect(w.endMs).toBeGreaterThan(w.startMs);
			expect(w.endMs).toBeLessThanOrEqual(audioMs);
		}
		// Words lie on the stream's clock: the speech in the file starts after the lead-in silence.
		expect(result.words[0]!.startMs).toBeGreaterThan(leadMs + span.startMs - 200);
		expect(result.words.at(-1)!.endMs).toBeLessThan(leadMs + span.endMs + 300);
		expect(result.words.map((w) => w.word).join(' ')).toBe(result.text);
		// The final replaces partials of the same utterance.
		expect(partials.length).toBeGreaterThan(0);
		expect(partials.every((p) => p.utteranceId === result.utteranceId)).toBe(true);
	});

	it('times each utterance of a stream where it was said, across pauses the voice gate kept from the recogniser', async () => {
		const { engine, finals } = started();
		await engine.start();
		// 3 s of silence between the sentences: the gate closes, so the recogniser never sees most of it.
		const gapMs = 3000;
		const audio = concatPcm(silence(500), speech1, silence(gapMs), speech2, silence(1500));
		feedAll((c) => engine.feed(c), audio);
		await engine.stop();
		const heard = finals.filter((f) => f.text !== '');
		const secondAtMs = 500 + (speech1.length * 1000) / 16_000 + gapMs;
		const span2 = speechSpanMs(speech2);
		const firstOfSecond = heard.find((f) => f.startMs > secondAtMs - 1000);
		expect(firstOfSecond, `finals: ${JSON.stringify(heard.map((f) => [f.text, f.startMs]))}`).toBeDefined();
		expect(Math.abs(firstOfSecond!.startMs - (secondAtMs + span2.startMs))).toBeLessThan(200);
		expect(heard.filter((f) => f.startMs < secondAtMs).every((f) => f.endMs < secondAtMs)).toBe(true);
	});

	it('a recogniser killed mid-utterance is restarted and recognises the next utterance on the same clock', async () => {
		const { engine, partials, finals, nextFinal } = started({ restartDelayMs: 100 });
		await engine.start();
		const restarted = new Promise<{ reason: string }>((resolve) => engine.once('restart', resolve));
		const firstPid = engine.recogniserPid!;

		// Half of the first sentence, then kill the recogniser once it has said something about it.
		const half = speech1.subarray(0, Math.floor(speech1.length / 2));
		feedAll((c) => engine.feed(c), half);
		await waitFor(() => partials.length > 0);
		process.kill(firstPid, 'SIGKILL');
		expect((await restarted).reason).toBe('SIGKILL');

		// The partial on screen is closed by an interrupted final rather than left hanging.
		const interrupted = finals.find((f) => f.interrupted);
		expect(interrupted?.text).toBe(partials.at(-1)!.text);
		expect(interrupted?.words).toEqual([]);

		const secondStartMs = (half.length * 1000) / 16_000 + 500;
		const final = nextFinal();
		feedAll((c) => engine.feed(c), concatPcm(silence(500), speech2, silence(1500)));
		const result = await final;
		expect(engine.recogniserPid).not.toBe(firstPid);
		expect(engine.restarts).toBe(1);
		expect(wordsHeard(second, result.text)).toBeGreaterThanOrEqual(0.75);
		expect(result.utteranceId).toBeGreaterThan(interrupted!.utteranceId);
		expect(result.words[0]!.startMs).toBeGreaterThan(secondStartMs - 200);
	});

	it('stop() finishes the utterance in progress and resolves after its final', async () => {
		const { engine, finals } = started();
		await engine.start();
		// No trailing silence: only stop() can end this utterance.
		feedAll((c) => engine.feed(c), concatPcm(silence(300), speech2));
		await engine.stop();
		expect(finals.filter((f) => f.text !== '')).toHaveLength(1);
		expect(wordsHeard(second, finals[0]!.text)).toBeGreaterThanOrEqual(0.6);
		expect(() => engine.feed(silence(20))).toThrow(/stopped/);
		await engine.stop();
	});

	it('start() names a missing model file', async () => {
		const { engine } = started({ decoder: { dictFile: path.join(dir, 'missing.dict') } });
		await expect(engine.start()).rejects.toThrow(`PocketSphinx dictionary not found: ${path.join(dir, 'missing.dict')}`);
	});

	it('start() reports a model the library cannot load', async () => {
		const broken = path.join(dir, 'broken-hmm');
		fs.mkdirSync(broken, { recursive: true });
		const { engine } = started({ decoder: { hmmDir: broken } });
		await expect(engine.start()).rejects.toThrow(/PocketSphinx (failed to start|recogniser exited while starting)/);
	});
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!condition()) {
		if (Date.now() > deadline) throw new Error('condition not met in time');
		await new Promise((r) => setTimeout(r, 20));
	}
}
