import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { normaliseWords, PocketsphinxEngine, vocabularyWords, type CaptionFinal } from '@tribune/transcoder';
import { afterAll, describe, expect, it } from 'vitest';
import { demoConversation, demoSpace } from '../src/demoConversation.js';
import { synthesiseSpeech } from '../src/stage/syntheticSpeech.js';

/**
 * The first captions a newcomer to `npm run demo` sees must be right: every line of the demo's conversation, said by
 * its speaker's voice as the synthetic speaker makes it, through Opus as ffmpeg sends it to the stage (64 kbit/s,
 * 48 kHz stereo) and back to 16 kHz mono as the broadcast's decoder gives it, is recognised word for word by the
 * default caption engine, which knows the space's words as in the broadcast.
 */
const recogniserScript = fileURLToPath(new URL('../../transcoder/dist/captions/pocketsphinxChild.js', import.meta.url));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-demo-lines-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** `samples` (16 kHz mono) through the synthetic speaker's Opus encoding and the broadcast's decoding. */
function throughOpus(samples: Int16Array, name: string): Int16Array {
	const raw = path.join(dir, `${name}.s16`);
	const opus = path.join(dir, `${name}.ogg`);
	const back = path.join(dir, `${name}.back.s16`);
	fs.writeFileSync(raw, Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength));
	const quiet = ['-hide_banner', '-loglevel', 'error', '-y'];
	execFileSync('ffmpeg', [...quiet, '-f', 's16le', '-ar', '16000', '-ac', '1', '-i', raw, '-c:a', 'libopus', '-ac', '2', '-ar', '48000', '-b:a', '64k', '-application', 'voip', opus]);
	execFileSync('ffmpeg', [...quiet, '-i', opus, '-ar', '16000', '-ac', '1', '-f', 's16le', back]);
	const bytes = fs.readFileSync(back);
	return Int16Array.from({ length: bytes.length >> 1 }, (_, i) => bytes.readInt16LE(i * 2));
}

/** The space's words, as a broadcast's `CaptionSession` gives them to each recogniser: speakers' names, title, description. */
const spaceVocabulary = vocabularyWords([...demoConversation.speakers.map((s) => s.displayName), demoSpace.title, demoSpace.description]);

/**
 * What each speaker's captions say, line by line: as in a broadcast, every speaker has a recogniser of their own that
 * hears only their lines (the voice gate keeps the others' turns, silence on this speaker's track, away from it), so
 * each speaker's first line is a fresh recogniser's first utterance.
 */
async function heardBySpeaker(): Promise<string[]> {
	const heard: string[] = demoConversation.lines.map(() => '');
	for (const speaker of demoConversation.speakers.keys()) {
		const mine = [...demoConversation.lines.entries()].filter(([, line]) => line.speaker === speaker);
		const voice = demoConversation.speakers[speaker]!.voice!;
		const parts: Int16Array[] = [];
		const starts: number[] = [];
		let at = 0;
		for (const [, line] of mine) {
			const speech = await synthesiseSpeech(dir, voice, line.text);
			parts.push(new Int16Array(1500 * 16), speech);
			starts.push(at + 1500);
			at += 1500 + speech.length / 16;
		}
		parts.push(new Int16Array(2000 * 16));
		const track = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
		parts.reduce((offset, p) => (track.set(p, offset), offset + p.length), 0);
		// One stream through Opus, as the speaker's ffmpeg sends their whole track.
		const samples = throughOpus(track, `speaker-${speaker}`);
		const engine = new PocketsphinxEngine({ childScript: recogniserScript, maxBacklogMs: 600_000 });
		engine.setVocabulary(spaceVocabulary);
		const finals: CaptionFinal[] = [];
		engine.on('final', (f) => finals.push(f));
		await engine.start();
		try {
			for (let i = 0; i < samples.length; i += 320) engine.feed(samples.slice(i, i + 320));
			const deadline = Date.now() + 120_000;
			while (!finals.some((f) => f.startMs >= starts.at(-1)! - 500) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
		} finally {
			await engine.stop();
		}
		mine.forEach(([line], k) => {
			heard[line] = finals
				.filter((f) => f.text !== '' && f.startMs >= starts[k]! - 500 && (starts[k + 1] === undefined || f.startMs < starts[k + 1]! - 500))
				.map((f) => f.text)
				.join(' ');
		});
	}
	return heard;
}

describe("the demo's conversation", () => {
	it("is recognised word for word, line by line, in each speaker's voice after Opus, from each recogniser's first utterance", async () => {
		if (!fs.existsSync(recogniserScript)) throw new Error(`${recogniserScript} is missing: run npm run build`);
		const heard = await heardBySpeaker();
		expect(heard.map((h) => normaliseWords(h).join(' '))).toEqual(demoConversation.lines.map((l) => normaliseWords(l.text).join(' ')));
	}, 240_000);
});
