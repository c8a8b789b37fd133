import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { captionVocabularyChannel, captionVocabularyKey, connectRedis, readCaptionVocabulary, writeCaptionVocabulary } from '../../src/index.js';
import { vocabularyWords } from '../../src/captions/captionVocabulary.js';
import { SherpaOnnxEngine } from '../../src/captions/SherpaOnnxEngine.js';
import { resolveSherpaModelFiles } from '../../src/captions/sherpaOnnxModel.js';
import { assertBuilt, collectingEngine, feedAll } from './support/engineHarness.js';
import { concatPcm, fliteSpeech, noise, silence } from './support/fliteSpeech.js';
import { toyLstmTransducer, toyTokens } from './support/tinyOnnx.js';

/**
 * The space's words in the recognisers (`captionVocabulary.ts`): PocketSphinx made likelier to say them (dictionary
 * + interpolated language model), sherpa-onnx given them as hotwords; whatever a host types reaches no command line,
 * path or model file as anything but a checked word.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-vocab-test-'));
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
	for (const close of closers.splice(0).reverse()) await close();
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
beforeAll(() => assertBuilt());

/** What a host might type, hostile parts included, with the space's real words among them. */
const hostilePhrases = [
	'Siobhan Okonkwo',
	'Grafana',
	'evil\nword\t-1.0\tinjected\n\\end\\',
	'../../../../etc/passwd',
	'-lm /tmp/x.lm -dict /tmp/y.dict',
	'word(2) K AH B ER N IY T S',
	'$(touch /tmp/pwned) `id` ; rm -rf /',
	'\u202Eevil\u2066 zero\u200Bwidth',
	'x'.repeat(100_000),
];
const sentence = 'siobhan okonkwo will talk about grafana dashboards';

function tempEntries(prefix: string): string[] {
	return fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith(prefix));
}

async function recognise(words: readonly string[] | undefined): Promise<{ text: string; cmdline: string }> {
	const { engine, nextFinal, errors } = collectingEngine();
	closers.push(() => engine.stop());
	if (words) engine.setVocabulary(words);
	await engine.start();
	const cmdline = fs.readFileSync(`/proc/${engine.recogniserPid}/cmdline`, 'utf8');
	const speech = fliteSpeech(dir, 'okonkwo', sentence, 'kal16');
	const final = nextFinal(60_000);
	feedAll((c) => engine.feed(c), concatPcm(silence(500), speech, silence(1500)));
	const text = (await final).text;
	expect(errors).toEqual([]);
	return { text, cmdline };
}

describe('PocketSphinx with the space vocabulary', () => {
	it('says the space\'s names and words it could not say without them; the words never reach its command line and its model file is gone', async () => {
		const before = tempEntries('tribune-vocabulary-');
		const words = vocabularyWords(hostilePhrases);
		expect(words).toContain('okonkwo');
		const without = await recognise(undefined);
		expect(without.text).not.toMatch(/okonkwo|grafana/);
		const withWords = await recognise(words);
		expect(withWords.text).toMatch(/\bokonkwo\b/);
		expect(withWords.text).toMatch(/\bgrafana\b/);
		// The recogniser's command line is node and its script, nothing else.
		expect(withWords.cmdline.split('\0').filter(Boolean)).toEqual([process.execPath, expect.stringMatching(/pocketsphinxChild\.js$/)]);
		// The words' language model lived in a private directory only while the recogniser loaded it.
		expect(tempEntries('tribune-vocabulary-')).toEqual(before);
	}, 120_000);

	it('refuses anything but checked words, and more of them than the bound', () => {
		const { engine } = collectingEngine();
		for (const bad of ['line\nbreak', '../etc', 'K AH', 'UPPER', '', 'a b', '-lm', "'x"]) {
			expect(() => engine.setVocabulary([bad]), JSON.stringify(bad)).toThrow();
		}
		expect(() => engine.setVocabulary(Array.from({ length: 301 }, () => 'word'))).toThrow();
	});

	it('starts with the largest list (300 words, most of them new to the dictionary) and still recognises speech', async () => {
		const letters = 'bcdfghklmnprstvz';
		const many = Array.from({ length: 300 }, (_, i) => `zo${letters[i % 16]}${letters[Math.floor(i / 16) % 16]}ix`);
		const { text } = await recognise(vocabularyWords([...many.slice(0, 298), 'okonkwo', 'grafana']));
		expect(text.split(' ').length).toBeGreaterThanOrEqual(4);
	}, 120_000);
});

describe('sherpa-onnx hotwords', () => {
	const childScript = fileURLToPath(new URL('../../dist/captions/sherpaOnnxChild.js', import.meta.url));

	function toyModel(name: string, bpeVocab: boolean): string {
		const d = path.join(dir, name);
		fs.mkdirSync(d);
		fs.writeFileSync(path.join(d, 'tokens.txt'), toyTokens);
		for (const [part, bytes] of Object.entries(toyLstmTransducer())) fs.writeFileSync(path.join(d, `${part}.onnx`), bytes);
		// sentencepiece's vocabulary: piece, tab, score.
		if (bpeVocab) fs.writeFileSync(path.join(d, 'bpe.vocab'), '<blk>\t0\n<sos/eos>\t0\n<unk>\t0\n▁A\t-1\n▁B\t-2\n');
		return d;
	}

	for (const bpe of [true, false]) {
		it(`a model ${bpe ? 'with bpe.vocab decodes with the words as hotwords' : 'without bpe.vocab runs without hotwords'} and recognises as before`, async () => {
			const before = tempEntries('tribune-hotwords-');
			const e = new SherpaOnnxEngine({ model: resolveSherpaModelFiles(toyModel(`toy-${bpe}`, bpe)), childScript, startTimeoutMs: 60_000 });
			closers.push(() => e.stop());
			const finals: string[] = [];
			e.on('final', (f) => finals.push(f.text));
			e.setVocabulary(['a', 'b']);
			await e.start();
			expect(fs.readFileSync(`/proc/${e.recogniserPid}/cmdline`, 'utf8').split('\0').filter(Boolean)).toEqual([process.execPath, childScript]);
			feedAll((c) => e.feed(c), concatPcm(silence(1000), noise(400, -10, 1), silence(2000)));
			await e.stop();
			expect(finals.filter((t) => t !== '')).toHaveLength(1);
			expect(finals.find((t) => t !== '')).toMatch(/^a( a)+$/);
			expect(tempEntries('tribune-hotwords-')).toEqual(before);
		}, 60_000);
	}
});

describe('the stored vocabulary on real Redis', () => {
	function connect(): Redis {
		const redis = connectRedis(inject('redisUrl'), 'test');
		closers.push(() => redis.disconnect());
		return redis;
	}

	it('round-trips, announces each change, expires, and reads a damaged value as none', async () => {
		const redis = connect();
		const subscriber = connect();
		const prefix = `t${randomUUID().slice(0, 8)}`;
		const messages: string[] = [];
		subscriber.on('message', (channel: string) => messages.push(channel));
		await subscriber.subscribe(captionVocabularyChannel(prefix, 'sp1'));
		expect(await readCaptionVocabulary(redis, prefix, 'sp1')).toBeUndefined();
		const stored = { words: ['Grafana', 'Siobhan Okonkwo'], title: 'Kubernetes office hours', description: 'Operators\nand dashboards' };
		await writeCaptionVocabulary(redis, prefix, 'sp1', stored);
		expect(await readCaptionVocabulary(redis, prefix, 'sp1')).toEqual(stored);
		expect(await redis.ttl(captionVocabularyKey(prefix, 'sp1'))).toBeGreaterThan(6 * 24 * 3600);
		await expect(writeCaptionVocabulary(redis, prefix, 'sp1', { ...stored, words: Array.from({ length: 401 }, () => 'x') })).rejects.toThrow();
		await redis.set(captionVocabularyKey(prefix, 'sp1'), '{"words": "not a list"');
		expect(await readCaptionVocabulary(redis, prefix, 'sp1')).toBeUndefined();
		const deadline = Date.now() + 5000;
		while (messages.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
		expect(messages).toEqual([captionVocabularyChannel(prefix, 'sp1')]);
		await redis.del(captionVocabularyKey(prefix, 'sp1'));
	});
});
