import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTranscoderConfig } from '../src/config.js';
import { cachedSherpaModel, fetchSherpaModel } from '../src/sherpaModelCache.js';
import { toyLstmTransducer, toyTokens } from './captions/support/tinyOnnx.js';

/**
 * A neural model in one variable: `npm run setup`'s model step against a local HTTP server serving a `.tar.bz2` of
 * the toy transducer (laid out as sherpa-onnx's releases are: one directory with tokens.txt and int8 and float
 * variants of each part, plus test wavs), and the transcoder's engine selection from the same variables. The CLI runs
 * compiled (`npx tsc -b transcoder` first), with the real sherpa-onnx library loading the model.
 */
const cli = fileURLToPath(new URL('../dist/fetchSherpaModelCli.js', import.meta.url));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-sherpa-fetch-'));
const archives: Record<string, Buffer> = {};
const requests: string[] = [];
let server: http.Server;
let base: string;
/** A port nothing listens on (bound, then closed): connecting is refused, as with no network. */
let closedPort: number;

const sha = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** A .tar.bz2 of `files` (path → content) under `work/src-<name>`, built with tar (no shell). */
function tarBz2(name: string, files: Record<string, Buffer | string>, extra: string[] = []): Buffer {
	const root = path.join(work, `src-${name}`);
	for (const [file, content] of Object.entries(files)) {
		fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
		fs.writeFileSync(path.join(root, file), content);
	}
	const out = path.join(work, `${name}.tar.bz2`);
	execFileSync('tar', ['--create', '--bzip2', '--file', out, '--directory', root, ...extra, ...fs.readdirSync(root)]);
	return fs.readFileSync(out);
}

function toyRelease(dir: string): Record<string, Buffer | string> {
	const parts = toyLstmTransducer();
	return {
		[`${dir}/tokens.txt`]: toyTokens,
		[`${dir}/encoder-epoch-99-avg-1.onnx`]: parts.encoder,
		[`${dir}/encoder-epoch-99-avg-1.int8.onnx`]: parts.encoder,
		[`${dir}/decoder-epoch-99-avg-1.onnx`]: parts.decoder,
		[`${dir}/joiner-epoch-99-avg-1.onnx`]: parts.joiner,
		[`${dir}/joiner-epoch-99-avg-1.int8.onnx`]: parts.joiner,
		[`${dir}/README.md`]: 'toy model\n',
		[`${dir}/test_wavs/0.wav`]: Buffer.alloc(64),
	};
}

beforeAll(async () => {
	archives.good = tarBz2('good', toyRelease('sherpa-onnx-streaming-toy-lstm'));
	archives.damaged = archives.good.subarray(0, Math.floor(archives.good.length / 2));
	archives.notModel = tarBz2('not-model', { 'docs/README.md': 'hello' });
	// A symlink pointing out of the archive (a release never holds one).
	const linkRoot = path.join(work, 'src-link');
	fs.mkdirSync(linkRoot, { recursive: true });
	fs.symlinkSync('/etc/passwd', path.join(linkRoot, 'tokens.txt'));
	archives.link = tarBz2('link', {});
	server = http.createServer((req, res) => {
		requests.push(req.url ?? '');
		const name = req.url?.slice(1).replace(/\.tar\.bz2$/, '') ?? '';
		if (name === 'cut') {
			// Promises the whole archive, sends half, hangs up.
			res.writeHead(200, { 'content-length': String(archives.good!.length) });
			res.write(archives.good!.subarray(0, 1000), () => res.destroy());
			return;
		}
		const body = archives[name];
		if (!body) {
			res.writeHead(404).end('not found');
			return;
		}
		res.writeHead(200, { 'content-length': String(body.length), 'content-type': 'application/x-bzip2' }).end(body);
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const probe = http.createServer();
	await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
	closedPort = (probe.address() as AddressInfo).port;
	await new Promise<void>((resolve) => probe.close(() => resolve()));
	base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
	await new Promise<void>((resolve) => server.close(() => resolve()));
	fs.rmSync(work, { recursive: true, force: true });
});

/** The setup step as `npm run setup` runs it: exit code, stdout, stderr. */
function runCli(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
	return new Promise((resolve) => {
		execFile(process.execPath, [cli], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, timeout: 180_000 }, (error, stdout, stderr) => {
			resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
		});
	});
}

const transcoderEnv = (cacheDir: string, extra: Record<string, string> = {}) => ({ REDIS_URL: 'redis://127.0.0.1:6379', TRIBUNE_CACHE_DIR: cacheDir, ...extra });

describe('TRIBUNE_SHERPA_MODEL_URL and _SHA256', () => {
	it('setup downloads, verifies, unpacks and loads the model; the transcoder then selects sherpa-onnx; a second setup uses the cache', async () => {
		if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run npx tsc -b transcoder`);
		const cacheDir = path.join(work, 'cache-good');
		const vars = { TRIBUNE_SHERPA_MODEL_URL: `${base}/good.tar.bz2`, TRIBUNE_SHERPA_MODEL_SHA256: sha(archives.good!).toUpperCase() };
		expect(loadTranscoderConfig(transcoderEnv(cacheDir, vars)).captionEngine).toMatchObject({ kind: 'pocketsphinx', note: expect.stringContaining('npm run setup') });

		const first = await runCli({ TRIBUNE_CACHE_DIR: cacheDir, ...vars });
		expect(first.stderr).toContain('SHA-256 verified');
		expect(first.code).toBe(0);
		const modelDir = first.stdout.trim();
		expect(modelDir).toBe(path.join(cacheDir, 'sherpa-onnx', sha(archives.good!), 'sherpa-onnx-streaming-toy-lstm'));
		const engine = loadTranscoderConfig(transcoderEnv(cacheDir, vars)).captionEngine;
		expect(engine).toMatchObject({ kind: 'sherpa-onnx', model: { dir: modelDir, encoder: path.join(modelDir, 'encoder-epoch-99-avg-1.int8.onnx'), decoder: path.join(modelDir, 'decoder-epoch-99-avg-1.onnx') } });
		// An explicit choice still wins.
		expect(loadTranscoderConfig(transcoderEnv(cacheDir, { ...vars, TRIBUNE_CAPTION_ENGINE: 'pocketsphinx' })).captionEngine).toEqual({ kind: 'pocketsphinx' });
		expect(loadTranscoderConfig(transcoderEnv(cacheDir, { ...vars, TRIBUNE_CAPTION_ENGINE: 'sherpa-onnx' })).captionEngine.kind).toBe('sherpa-onnx');

		const fetched = requests.length;
		const second = await runCli({ TRIBUNE_CACHE_DIR: cacheDir, ...vars });
		expect([second.code, second.stdout.trim()]).toEqual([0, modelDir]);
		expect(second.stderr).toContain('already in the cache');
		expect(requests.length).toBe(fetched);

		// A model damaged in the cache since is not used.
		fs.rmSync(path.join(modelDir, 'tokens.txt'));
		expect(cachedSherpaModel(cacheDir, sha(archives.good!))).toBeUndefined();
		expect(loadTranscoderConfig(transcoderEnv(cacheDir, vars)).captionEngine.kind).toBe('pocketsphinx');
	}, 240_000);

	it('a wrong hash, a download cut short, a damaged archive, no network, an HTTP error: a clear message, nothing cached, PocketSphinx stays', async () => {
		const cases: [string, Record<string, string>, RegExp][] = [
			['wrong hash', { TRIBUNE_SHERPA_MODEL_URL: `${base}/good.tar.bz2`, TRIBUNE_SHERPA_MODEL_SHA256: 'ab'.repeat(32) }, /SHA-256 of .*good\.tar\.bz2 is [0-9a-f]{64}, not (ab){32}/],
			['cut short', { TRIBUNE_SHERPA_MODEL_URL: `${base}/cut.tar.bz2`, TRIBUNE_SHERPA_MODEL_SHA256: sha(archives.good!) }, /broke off after \d+ bytes of \d+ \(truncated\)|truncated: \d+ of \d+ bytes/],
			['damaged archive', { TRIBUNE_SHERPA_MODEL_URL: `${base}/damaged.tar.bz2`, TRIBUNE_SHERPA_MODEL_SHA256: sha(archives.damaged!) }, /archive is damaged/],
			['not a model', { TRIBUNE_SHERPA_MODEL_URL: `${base}/notModel.tar.bz2`, TRIBUNE_SHERPA_MODEL_SHA256: sha(archives.notModel!) }, /no tokens\.txt: not a sherpa-onnx model/],
			['a symlink', { TRIBUNE_SHERPA_MODEL_URL: `${base}/link.tar.bz2`, TRIBUNE_SHERPA_MODEL_SHA256: sha(archives.link!) }, /something other than files and directories \(tokens\.txt -> \/etc\/passwd\): refused/],
			['no network', { TRIBUNE_SHERPA_MODEL_URL: `http://127.0.0.1:${closedPort}/model.tar.bz2`, TRIBUNE_SHERPA_MODEL_SHA256: sha(archives.good!) }, /could not download http:\/\/127\.0\.0\.1:\d+\/model\.tar\.bz2: ECONNREFUSED.*no network/],
			['HTTP 404', { TRIBUNE_SHERPA_MODEL_URL: `${base}/missing.tar.bz2`, TRIBUNE_SHERPA_MODEL_SHA256: sha(archives.good!) }, /HTTP 404/],
			['hash alone', { TRIBUNE_SHERPA_MODEL_SHA256: sha(archives.good!) }, /go together \(only the hash is set\)/],
			['not a hash', { TRIBUNE_SHERPA_MODEL_URL: `${base}/good.tar.bz2`, TRIBUNE_SHERPA_MODEL_SHA256: 'sha256:abc' }, /64 lowercase hex digits/],
		];
		for (const [what, vars, message] of cases) {
			const cacheDir = path.join(work, `cache-${what.replaceAll(' ', '-')}`);
			const r = await runCli({ TRIBUNE_CACHE_DIR: cacheDir, ...vars });
			expect({ what, code: r.code, stdout: r.stdout }).toEqual({ what, code: 1, stdout: '' });
			expect(r.stderr, what).toMatch(message);
			expect(r.stderr, what).toContain('captions stay on PocketSphinx');
			// Nothing half-done is left behind, and the transcoder runs PocketSphinx.
			const left = fs.existsSync(path.join(cacheDir, 'sherpa-onnx')) ? fs.readdirSync(path.join(cacheDir, 'sherpa-onnx')) : [];
			expect(left, what).toEqual([]);
			if (vars.TRIBUNE_SHERPA_MODEL_URL && /^[0-9a-f]{64}$/.test(vars.TRIBUNE_SHERPA_MODEL_SHA256 ?? '')) {
				expect(loadTranscoderConfig(transcoderEnv(cacheDir, vars)).captionEngine.kind, what).toBe('pocketsphinx');
			}
		}
		expect(await runCli({ TRIBUNE_CACHE_DIR: path.join(work, 'cache-none') })).toEqual({ code: 0, stdout: '', stderr: '' });
	}, 240_000);

	it('refuses an archive path outside itself without unpacking anything', async () => {
		// GNU tar strips a leading "/" and refuses ".." when extracting; the listing check refuses before that.
		const root = path.join(work, 'src-escape');
		fs.mkdirSync(path.join(root, 'm'), { recursive: true });
		fs.writeFileSync(path.join(root, 'm', 'tokens.txt'), toyTokens);
		const out = path.join(work, 'escape.tar.bz2');
		execFileSync('tar', ['--create', '--bzip2', '--file', out, '--directory', root, '--transform', 's,^m/tokens.txt,../../escaped.txt,', 'm/tokens.txt']);
		archives.escape = fs.readFileSync(out);
		const cacheDir = path.join(work, 'cache-escape');
		await expect(fetchSherpaModel({ url: `${base}/escape.tar.bz2`, sha256: sha(archives.escape), cacheDir })).rejects.toThrow(/a path outside itself \(\.\.\/\.\.\/escaped\.txt\): refused/);
		expect(fs.existsSync(path.join(cacheDir, 'escaped.txt'))).toBe(false);
		expect(fs.readdirSync(path.join(cacheDir, 'sherpa-onnx'))).toEqual([]);
	});

	it('the transcoder refuses malformed variables and an explicit sherpa-onnx whose model is not in the cache', () => {
		const cacheDir = path.join(work, 'cache-empty');
		expect(() => loadTranscoderConfig(transcoderEnv(cacheDir, { TRIBUNE_SHERPA_MODEL_URL: 'ftp://x/y', TRIBUNE_SHERPA_MODEL_SHA256: 'ab'.repeat(32) }))).toThrow(/TRIBUNE_SHERPA_MODEL_URL.*https/);
		expect(() => loadTranscoderConfig(transcoderEnv(cacheDir, { TRIBUNE_SHERPA_MODEL_URL: `${base}/good.tar.bz2` }))).toThrow(/go together/);
		expect(() => loadTranscoderConfig(transcoderEnv(cacheDir, { TRIBUNE_CAPTION_ENGINE: 'sherpa-onnx', TRIBUNE_SHERPA_MODEL_URL: `${base}/x.tar.bz2`, TRIBUNE_SHERPA_MODEL_SHA256: 'cd'.repeat(32) }))).toThrow(/no model with this SHA-256 in .*npm run setup/);
	});
});
