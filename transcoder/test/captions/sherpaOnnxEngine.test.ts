import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, exitCodes } from '@tribune/ingest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CaptionFinal, type CaptionPartial } from '../../src/captions/CaptionEngine.js';
import { SherpaOnnxEngine, type SherpaOnnxEngineOptions } from '../../src/captions/SherpaOnnxEngine.js';
import { resolveSherpaModelFiles } from '../../src/captions/sherpaOnnxModel.js';
import { probeSherpaOnnxEngine } from '../../src/captions/sherpaOnnxPreflight.js';
import { normaliseWords, wordErrors } from '../../src/captions/wordErrorRate.js';
import { feedAll } from './support/engineHarness.js';
import { concatPcm, fliteSpeech, noise, silence } from './support/fliteSpeech.js';
import { identityOnnxModel, toyLstmTransducer, toyTokens } from './support/tinyOnnx.js';

/** The compiled recogniser and transcoder: tests run the engine from src/, its child process runs dist/. */
const childScript = fileURLToPath(new URL('../../dist/captions/sherpaOnnxChild.js', import.meta.url));
const transcoderMain = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
/** A real streaming model, when the person running the tests has one (none ships on npm; see the README). */
const realModelDir = process.env.TRIBUNE_SHERPA_MODEL_DIR;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-sherpa-'));
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
	for (const close of closers.splice(0)) await close();
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const tokens = '<blk> 0\n<sos/eos> 1\n<unk> 2\n▁THE 3\nS 4\n';

/** A model directory whose three parts are `bytes` each. */
function modelDir(name: string, bytes: Buffer): string {
	const d = path.join(dir, name);
	fs.mkdirSync(d);
	fs.writeFileSync(path.join(d, 'tokens.txt'), tokens);
	for (const part of ['encoder', 'decoder', 'joiner']) fs.writeFileSync(path.join(d, `${part}-epoch-99-avg-1.onnx`), bytes);
	return d;
}

function engine(options: Partial<SherpaOnnxEngineOptions> & Pick<SherpaOnnxEngineOptions, 'model'>): SherpaOnnxEngine {
	const e = new SherpaOnnxEngine({ childScript, startTimeoutMs: 60_000, ...options });
	closers.push(() => e.stop());
	return e;
}

/** The transcoder's entry point with only the caption settings under test (it stops before it would need Redis). */
function runTranscoder(env: Record<string, string>) {
	return spawnSync(process.execPath, [transcoderMain], {
		env: { PATH: process.env.PATH ?? '', HOME: os.homedir(), REDIS_URL: 'redis://127.0.0.1:1', ...env },
		encoding: 'utf8',
		timeout: 60_000,
	});
}

describe('SherpaOnnxEngine: a model that is there but does not load is a clear startup error', () => {
	beforeAll(() => {
		if (!fs.existsSync(childScript) || !fs.existsSync(transcoderMain)) throw new Error('run npm run build first: dist/ is missing');
	});

	it('a truncated .onnx fails start() with the file and ONNX Runtime\'s message, and the probe throws a ConfigError naming the directory', async () => {
		const d = modelDir('truncated', identityOnnxModel().subarray(0, 40));
		const model = resolveSherpaModelFiles(d);
		await expect(engine({ model }).start()).rejects.toThrow(/exited while starting \(SIGABRT\).*Load model from .*-epoch-99-avg-1\.onnx failed/);
		const probe = probeSherpaOnnxEngine(model, { childScript, startTimeoutMs: 60_000 });
		await expect(probe).rejects.toBeInstanceOf(ConfigError);
		await expect(probe).rejects.toThrow(`TRIBUNE_SHERPA_MODEL_DIR=${d}: the sherpa-onnx caption engine could not load this model`);
	});

	it('a valid ONNX file that is not a streaming transducer fails start() instead of recognising nothing', async () => {
		const d = modelDir('notTransducer', identityOnnxModel());
		const e = engine({ model: resolveSherpaModelFiles(d) });
		const starting = e.start();
		const pid = e.recogniserPid; // forked at once, before the model loads
		expect(pid).toBeGreaterThan(0);
		const error = await starting.then(() => undefined, (err: unknown) => err as Error);
		expect(error, 'start() resolved for a model that is not a transducer').toBeInstanceOf(Error);
		expect(error!.message).toMatch(/^sherpa-onnx (recogniser exited while starting|failed to start)/);
		// A rejected start() leaves no recogniser behind: the process is gone (and reaped), not just forgotten.
		expect(e.recogniserPid).toBeUndefined();
		expect(() => process.kill(pid!, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
	});

	it('a package that is not installed fails start() saying which package and how to install it', async () => {
		const d = modelDir('noPackage', identityOnnxModel());
		const start = engine({ model: resolveSherpaModelFiles(d), packageName: 'sherpa-onnx-node-not-installed' }).start();
		await expect(start).rejects.toThrow(/sherpa-onnx failed to start: the npm package sherpa-onnx-node-not-installed could not be loaded .*npm install/);
	});

	it('model files removed after the configuration was read fail start() naming the file', async () => {
		const d = modelDir('removed', identityOnnxModel());
		const model = resolveSherpaModelFiles(d);
		fs.rmSync(model.joiner);
		await expect(engine({ model }).start()).rejects.toThrow(`sherpa-onnx model file not found: ${model.joiner}`);
	});

	it('the transcoder exits with the config exit code and names the path for a missing directory, an empty one and a broken model', () => {
		const missing = path.join(dir, 'does-not-exist');
		const empty = path.join(dir, 'empty');
		fs.mkdirSync(empty);
		const broken = modelDir('brokenForMain', identityOnnxModel().subarray(0, 40));
		for (const [modelDirValue, expected] of [
			[missing, `model directory ${missing} does not exist`],
			[empty, `${path.join(empty, 'tokens.txt')} is missing`],
			[broken, `TRIBUNE_SHERPA_MODEL_DIR=${broken}: the sherpa-onnx caption engine could not load this model`],
		] as const) {
			const run = runTranscoder({ TRIBUNE_CAPTION_ENGINE: 'sherpa-onnx', TRIBUNE_SHERPA_MODEL_DIR: modelDirValue });
			expect(run.status, `${modelDirValue}: ${run.stderr}`).toBe(exitCodes.config);
			expect(run.stderr).toContain(expected);
		}
		const unset = runTranscoder({ TRIBUNE_CAPTION_ENGINE: 'sherpa-onnx' });
		expect(unset.status).toBe(exitCodes.config);
		expect(unset.stderr).toContain('TRIBUNE_SHERPA_MODEL_DIR=(unset): required with TRIBUNE_CAPTION_ENGINE=sherpa-onnx');
	});
});

describe('SherpaOnnxEngine with a toy transducer (the real addon and ONNX Runtime; white noise is its only word)', () => {
	let model: ReturnType<typeof resolveSherpaModelFiles>;
	beforeAll(() => {
		const d = path.join(dir, 'toy');
		fs.mkdirSync(d);
		fs.writeFileSync(path.join(d, 'tokens.txt'), toyTokens);
		for (const [part, bytes] of Object.entries(toyLstmTransducer())) fs.writeFileSync(path.join(d, `${part}.onnx`), bytes);
		model = resolveSherpaModelFiles(d);
	});

	function collecting() {
		const e = engine({ model });
		const partials: CaptionPartial[] = [];
		const finals: CaptionFinal[] = [];
		const errors: Error[] = [];
		e.on('partial', (p) => partials.push(p));
		e.on('final', (f) => finals.push(f));
		e.on('error', (err) => errors.push(err));
		return { e, partials, finals, errors };
	}

	/** -10 dBFS white noise: the toy model's "word" (an `a` per 40 ms frame). */
	const burst = (ms: number, seed: number): Int16Array => noise(ms, -10, seed);

	it('the startup probe loads a model that works', async () => {
		await expect(probeSherpaOnnxEngine(model, { childScript, startTimeoutMs: 60_000 })).resolves.toBeUndefined();
	});

	it('a burst gives partials, then at the endpoint a final whose words lie inside the burst on the stream clock', async () => {
		const { e, partials, finals, errors } = collecting();
		await e.start();
		expect(e.recogniserPid).toBeGreaterThan(0);
		feedAll((c) => e.feed(c), concatPcm(silence(1000), burst(400, 1), silence(2000)));
		await e.stop();
		expect(errors).toEqual([]);
		expect(finals, JSON.stringify(finals)).toHaveLength(1);
		const final = finals[0]!;
		expect(final.interrupted).toBe(false);
		expect(final.text).toMatch(/^a( a)+$/);
		expect(final.words.map((w) => w.word).join(' ')).toBe(final.text);
		expect(final.words[0]!.startMs).toBeGreaterThanOrEqual(950);
		expect(final.words[0]!.startMs).toBeLessThanOrEqual(1100);
		for (const w of final.words) {
			expect(w.endMs).toBeGreaterThan(w.startMs);
			expect(w.endMs).toBeLessThanOrEqual(1400 + 450);
		}
		expect(partials.length).toBeGreaterThan(0);
		expect(partials.every((p) => p.utteranceId === final.utteranceId && /^a( a)*$/.test(p.text))).toBe(true);
	});

	it('after a gap the voice gate kept from the recogniser, the next burst is timed where it was fed', async () => {
		const { e, finals } = collecting();
		await e.start();
		// The burst runs to the end of what is fed before the gap: the gate's pause ends it, with tail padding.
		feedAll((c) => e.feed(c), concatPcm(silence(500), burst(300, 2), silence(5000), burst(300, 3), silence(1500)));
		await e.stop();
		const heard = finals.filter((f) => f.text !== '');
		expect(heard, JSON.stringify(finals)).toHaveLength(2);
		expect(heard[0]!.words[0]!.startMs).toBeGreaterThanOrEqual(450);
		expect(heard[0]!.words[0]!.startMs).toBeLessThanOrEqual(600);
		expect(heard[1]!.words[0]!.startMs).toBeGreaterThanOrEqual(5750);
		expect(heard[1]!.words[0]!.startMs).toBeLessThanOrEqual(5900);
		expect(heard[1]!.utteranceId).toBeGreaterThan(heard[0]!.utteranceId);
	});

	it('a recogniser killed with SIGKILL is restarted, and the next burst is recognised', async () => {
		const { e, finals } = collecting();
		await e.start();
		const firstPid = e.recogniserPid!;
		const restarted = new Promise<unknown>((resolve) => e.once('restart', resolve));
		process.kill(firstPid, 'SIGKILL');
		expect(await restarted).toMatchObject({ reason: 'SIGKILL', attempt: 1 });
		// The new recogniser starts after the restart delay (200 ms); audio fed meanwhile is queued for it.
		feedAll((c) => e.feed(c), silence(200));
		const deadline = Date.now() + 30_000;
		while ((e.recogniserPid === undefined || e.recogniserPid === firstPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
		expect(e.recogniserPid).not.toBe(firstPid);
		feedAll((c) => e.feed(c), concatPcm(silence(500), burst(300, 4), silence(1500)));
		await e.stop();
		expect(e.restarts).toBe(1);
		expect(finals.filter((f) => f.text !== '').length, JSON.stringify(finals)).toBe(1);
	});
});

/** A model the person running the tests supplied: nothing here downloads one. */
describe.skipIf(!realModelDir)('SherpaOnnxEngine with the model in TRIBUNE_SHERPA_MODEL_DIR', () => {
	const sentence = 'Thank you so much for coming, and have a wonderful evening.';
	let speech: Int16Array;
	beforeAll(() => {
		speech = fliteSpeech(dir, 'sherpa-first', sentence, 'slt');
	});

	function collecting() {
		const e = engine({ model: resolveSherpaModelFiles(realModelDir!) });
		const partials: CaptionPartial[] = [];
		const finals: CaptionFinal[] = [];
		e.on('partial', (p) => partials.push(p));
		e.on('final', (f) => finals.push(f));
		return { e, partials, finals };
	}

	it('recognises a flite sentence: partials, then a final with timed words on the stream clock', async () => {
		const { e, partials, finals } = collecting();
		await e.start();
		const leadMs = 700;
		const audio = concatPcm(silence(leadMs), speech, silence(1500));
		feedAll((c) => e.feed(c), audio);
		await e.stop();
		const heard = finals.filter((f) => f.text !== '');
		expect(heard.length, JSON.stringify(finals)).toBeGreaterThan(0);
		const text = heard.map((f) => f.text).join(' ');
		const errors = wordErrors(sentence, text);
		expect(errors.errors / normaliseWords(sentence).length, text).toBeLessThanOrEqual(0.35);
		expect(partials.length).toBeGreaterThan(0);
		const audioMs = (audio.length * 1000) / 16_000;
		for (const w of heard.flatMap((f) => f.words)) {
			expect(w.startMs).toBeGreaterThanOrEqual(leadMs - 400);
			expect(w.endMs).toBeGreaterThan(w.startMs);
			expect(w.endMs).toBeLessThanOrEqual(audioMs);
		}
	});

	it('a recogniser killed with SIGKILL is restarted and recognises the next sentence', async () => {
		const { e, finals } = collecting();
		await e.start();
		const restarted = new Promise((resolve) => e.once('restart', resolve));
		process.kill(e.recogniserPid!, 'SIGKILL');
		await restarted;
		feedAll((c) => e.feed(c), concatPcm(silence(500), speech, silence(1500)));
		await e.stop();
		expect(e.restarts).toBe(1);
		expect(finals.some((f) => f.text.includes('evening') || f.text.includes('coming')), JSON.stringify(finals)).toBe(true);
	});
});
