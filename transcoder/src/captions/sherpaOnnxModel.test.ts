import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '@tribune/ingest';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTranscoderConfig } from '../config.js';
import { resolveSherpaModelFiles, sherpaModelProblems, sherpaOnnxPackageProblem } from './sherpaOnnxModel.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-sherpa-model-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const tokens = '<blk> 0\n<sos/eos> 1\n<unk> 2\n▁THE 3\n';
let n = 0;

/** A directory holding `files` (name → content), as real files. */
function dirWith(files: Record<string, string>): string {
	const d = path.join(root, `m${++n}`);
	fs.mkdirSync(d);
	for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(d, name), content);
	return d;
}

const complete = {
	'tokens.txt': tokens,
	'encoder-epoch-99-avg-1-chunk-16-left-128.onnx': 'x',
	'decoder-epoch-99-avg-1-chunk-16-left-128.onnx': 'x',
	'joiner-epoch-99-avg-1-chunk-16-left-128.onnx': 'x',
};

describe('sherpaModelProblems', () => {
	it('a complete directory has no problems and resolves to absolute paths of its four files', () => {
		const d = dirWith(complete);
		expect(sherpaModelProblems(d)).toEqual([]);
		expect(resolveSherpaModelFiles(d)).toEqual({
			dir: d,
			tokens: path.join(d, 'tokens.txt'),
			encoder: path.join(d, 'encoder-epoch-99-avg-1-chunk-16-left-128.onnx'),
			decoder: path.join(d, 'decoder-epoch-99-avg-1-chunk-16-left-128.onnx'),
			joiner: path.join(d, 'joiner-epoch-99-avg-1-chunk-16-left-128.onnx'),
		});
	});

	it('the int8 variant is picked when a release ships both', () => {
		const d = dirWith({ ...complete, 'encoder-epoch-99-avg-1-chunk-16-left-128.int8.onnx': 'x', 'joiner-epoch-99-avg-1-chunk-16-left-128.int8.onnx': 'x' });
		const files = resolveSherpaModelFiles(d);
		expect(path.basename(files.encoder)).toBe('encoder-epoch-99-avg-1-chunk-16-left-128.int8.onnx');
		expect(path.basename(files.decoder)).toBe('decoder-epoch-99-avg-1-chunk-16-left-128.onnx');
		expect(path.basename(files.joiner)).toBe('joiner-epoch-99-avg-1-chunk-16-left-128.int8.onnx');
	});

	it('a missing directory, or a file in its place, is named', () => {
		const missing = path.join(root, 'nope');
		expect(sherpaModelProblems(missing)).toEqual([`model directory ${missing} does not exist`]);
		const file = path.join(dirWith(complete), 'tokens.txt');
		expect(sherpaModelProblems(file)).toEqual([`${file} is not a directory`]);
	});

	it('an empty directory lists every missing file', () => {
		const d = dirWith({});
		expect(sherpaModelProblems(d)).toEqual([
			`${path.join(d, 'tokens.txt')} is missing`,
			`no encoder model in ${d} (expected a file named encoder*.onnx)`,
			`no decoder model in ${d} (expected a file named decoder*.onnx)`,
			`no joiner model in ${d} (expected a file named joiner*.onnx)`,
		]);
		expect(() => resolveSherpaModelFiles(d)).toThrow(`sherpa-onnx model: ${path.join(d, 'tokens.txt')} is missing; no encoder model`);
	});

	it('empty files, a tokens.txt of another format and ambiguous parts are named', () => {
		const d = dirWith({ ...complete, 'tokens.txt': '# not tokens\n', 'joiner-epoch-99-avg-1-chunk-16-left-128.onnx': '', 'decoder-epoch-30.onnx': 'x' });
		expect(sherpaModelProblems(d)).toEqual([
			`${path.join(d, 'tokens.txt')} is not a sherpa-onnx tokens file (lines of "symbol id")`,
			`several decoder models in ${d}: decoder-epoch-30.onnx, decoder-epoch-99-avg-1-chunk-16-left-128.onnx (keep one, or one plus its .int8.onnx)`,
			`${path.join(d, 'joiner-epoch-99-avg-1-chunk-16-left-128.onnx')} is empty`,
		]);
	});

	it('a directory in place of a model file is named', () => {
		const d = dirWith({ 'tokens.txt': tokens, 'encoder.onnx': 'x', 'decoder.onnx': 'x' });
		fs.mkdirSync(path.join(d, 'joiner.onnx'));
		expect(sherpaModelProblems(d)).toEqual([`${path.join(d, 'joiner.onnx')} is not a file`]);
	});

	// Root reads any file whatever its mode: the check cannot fail there, so it only runs as another user.
	it.skipIf(process.getuid?.() === 0)('an unreadable model file is named', () => {
		const d = dirWith(complete);
		const encoder = path.join(d, 'encoder-epoch-99-avg-1-chunk-16-left-128.onnx');
		fs.chmodSync(encoder, 0o000);
		expect(sherpaModelProblems(d)).toEqual([`${encoder} is not readable`]);
	});
});

describe('sherpaOnnxPackageProblem', () => {
	it('is undefined for the installed package and says how to install a missing one', () => {
		expect(sherpaOnnxPackageProblem()).toBeUndefined();
		expect(sherpaOnnxPackageProblem('sherpa-onnx-node-not-installed')).toMatch(/^the npm package sherpa-onnx-node-not-installed is not installed .*npm install/);
	});
});

describe('loadTranscoderConfig: the caption engine', () => {
	const base = { REDIS_URL: 'redis://127.0.0.1:6379' };

	it('defaults to PocketSphinx and ignores a model directory it does not use', () => {
		expect(loadTranscoderConfig(base).captionEngine).toEqual({ kind: 'pocketsphinx' });
		expect(loadTranscoderConfig({ ...base, TRIBUNE_SHERPA_MODEL_DIR: '/nowhere' }).captionEngine).toEqual({ kind: 'pocketsphinx' });
	});

	it('sherpa-onnx with a complete model directory carries its files', () => {
		const d = dirWith(complete);
		const config = loadTranscoderConfig({ ...base, TRIBUNE_CAPTION_ENGINE: 'sherpa-onnx', TRIBUNE_SHERPA_MODEL_DIR: d });
		expect(config.captionEngine).toEqual({ kind: 'sherpa-onnx', model: resolveSherpaModelFiles(d) });
	});

	it('sherpa-onnx without a directory, with a missing one or an empty one is a ConfigError naming the variable and the path', () => {
		const load = (env: Record<string, string>) => () => loadTranscoderConfig({ ...base, TRIBUNE_CAPTION_ENGINE: 'sherpa-onnx', ...env });
		expect(load({})).toThrow(ConfigError);
		expect(load({})).toThrow('TRIBUNE_SHERPA_MODEL_DIR=(unset): required with TRIBUNE_CAPTION_ENGINE=sherpa-onnx');
		const missing = path.join(root, 'missing');
		expect(load({ TRIBUNE_SHERPA_MODEL_DIR: missing })).toThrow(`TRIBUNE_SHERPA_MODEL_DIR="${missing}": model directory ${missing} does not exist`);
		const empty = dirWith({});
		expect(load({ TRIBUNE_SHERPA_MODEL_DIR: empty })).toThrow(`TRIBUNE_SHERPA_MODEL_DIR="${empty}": no joiner model in ${empty}`);
	});

	it('an unknown engine is a ConfigError listing the choices', () => {
		expect(() => loadTranscoderConfig({ ...base, TRIBUNE_CAPTION_ENGINE: 'whisper' })).toThrow('TRIBUNE_CAPTION_ENGINE="whisper": expected pocketsphinx or sherpa-onnx');
	});
});
