import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sherpaModelProblems } from './captions/sherpaOnnxModel.js';

const execFileAsync = promisify(execFile);

/**
 * A sherpa-onnx model named by URL and SHA-256 (`TRIBUNE_SHERPA_MODEL_URL`, `TRIBUNE_SHERPA_MODEL_SHA256`): `npm run
 * setup` downloads the `.tar.bz2` archive (the layout sherpa-onnx's releases use: one directory holding tokens.txt and
 * the encoder, decoder and joiner), checks its SHA-256, unpacks it into the cache and checks the model; the
 * transcoder then finds it there by its hash, without the network. Anything wrong leaves the cache without it, and
 * captions on PocketSphinx.
 */

/** `~/.cache/tribune` unless TRIBUNE_CACHE_DIR says otherwise (the mediasoup worker build lives there too). */
export function tribuneCacheDir(env: { TRIBUNE_CACHE_DIR?: string | undefined }): string {
	return path.resolve(env.TRIBUNE_CACHE_DIR || path.join(os.homedir(), '.cache', 'tribune'));
}

export const sha256Pattern = /^[0-9a-f]{64}$/;

/** Where the model with this archive hash is unpacked: `<cache>/sherpa-onnx/<sha256>/`. */
export function sherpaModelCachePath(cacheDir: string, sha256: string): string {
	if (!sha256Pattern.test(sha256)) throw new Error('expected a SHA-256 of 64 lowercase hex digits');
	return path.join(cacheDir, 'sherpa-onnx', sha256);
}

/** What `fetchSherpaModel` leaves beside a model it has checked; without it, nothing in the directory is used. */
interface VerifiedRecord {
	url: string;
	sha256: string;
	/** Relative to the cache path: the directory holding tokens.txt. */
	modelDir: string;
	bytes: number;
	fetchedAt: string;
}

/** The unpacked, checked model directory for this hash, or undefined when setup has not fetched it (or it was damaged since). */
export function cachedSherpaModel(cacheDir: string, sha256: string): string | undefined {
	const base = sherpaModelCachePath(cacheDir, sha256);
	let record: VerifiedRecord;
	try {
		record = JSON.parse(fs.readFileSync(path.join(base, 'verified.json'), 'utf8')) as VerifiedRecord;
	} catch {
		return undefined;
	}
	if (record.sha256 !== sha256 || typeof record.modelDir !== 'string') return undefined;
	const dir = path.resolve(base, record.modelDir);
	if (!dir.startsWith(base + path.sep) || sherpaModelProblems(dir).length > 0) return undefined;
	return dir;
}

/** A download, verification or unpacking that failed; `message` says what, for a person. */
export class SherpaModelFetchError extends Error {
	override readonly name = 'SherpaModelFetchError';
}

export interface FetchSherpaModelOptions {
	url: string;
	sha256: string;
	cacheDir: string;
	/** Largest archive accepted, bytes. Default 2 GiB (the largest streaming English releases are ~300 MB). */
	maxBytes?: number;
	/** The whole download, ms. Default 30 min. */
	timeoutMs?: number;
	/** Loads the unpacked model once (the transcoder's startup probe); a model that does not load is not kept. */
	probe?: (modelDir: string) => Promise<void>;
	/** Progress lines for a person. */
	log?: (line: string) => void;
}

/**
 * Downloads, verifies and unpacks the model into the cache, or finds it there already: the model directory, and
 * whether it was downloaded now. Throws `SherpaModelFetchError` (the cache left without the model) on a bad URL or
 * hash, no network, an HTTP error, a download cut short, a hash mismatch, an archive that is damaged or holds
 * anything but plain files and directories inside itself, no streaming transducer in it, or a failed `probe`.
 */
export async function fetchSherpaModel(options: FetchSherpaModelOptions): Promise<{ modelDir: string; downloaded: boolean }> {
	const { sha256, cacheDir } = options;
	const log = options.log ?? (() => {});
	let url: URL;
	try {
		url = new URL(options.url);
	} catch {
		throw new SherpaModelFetchError(`TRIBUNE_SHERPA_MODEL_URL is not a URL: ${JSON.stringify(options.url.slice(0, 200))}`);
	}
	if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new SherpaModelFetchError(`TRIBUNE_SHERPA_MODEL_URL must be an https:// (or http://) URL, not ${url.protocol}`);
	if (!sha256Pattern.test(sha256)) throw new SherpaModelFetchError('TRIBUNE_SHERPA_MODEL_SHA256 must be the archive\'s SHA-256: 64 lowercase hex digits (sha256sum prints it)');
	const cached = cachedSherpaModel(cacheDir, sha256);
	if (cached) return { modelDir: cached, downloaded: false };

	const base = sherpaModelCachePath(cacheDir, sha256);
	fs.mkdirSync(path.dirname(base), { recursive: true });
	const work = fs.mkdtempSync(`${base}.partial-`);
	try {
		const archive = path.join(work, 'model.tar.bz2');
		const bytes = await download(url, archive, sha256, options.maxBytes ?? 2 ** 31, options.timeoutMs ?? 30 * 60_000, log);
		const unpacked = path.join(work, 'unpacked');
		await unpack(archive, unpacked);
		fs.rmSync(archive, { force: true });
		const modelDir = findModelDir(unpacked);
		log(`checking the model in ${path.relative(unpacked, modelDir) || '.'}`);
		if (options.probe) {
			try {
				await options.probe(modelDir);
			} catch (error) {
				throw new SherpaModelFetchError(`the model in the archive does not load: ${error instanceof Error ? error.message : String(error)}`);
			}
		}
		fs.rmSync(base, { recursive: true, force: true });
		fs.renameSync(unpacked, base);
		const record: VerifiedRecord = { url: url.href, sha256, modelDir: path.relative(unpacked, modelDir) || '.', bytes, fetchedAt: new Date().toISOString() };
		fs.writeFileSync(path.join(base, 'verified.json'), `${JSON.stringify(record, null, 2)}\n`);
		const dir = cachedSherpaModel(cacheDir, sha256);
		if (!dir) throw new SherpaModelFetchError(`the model unpacked in ${base} could not be read back`);
		return { modelDir: dir, downloaded: true };
	} finally {
		fs.rmSync(work, { recursive: true, force: true });
	}
}

async function download(url: URL, file: string, sha256: string, maxBytes: number, timeoutMs: number, log: (line: string) => void): Promise<number> {
	const where = `${url.origin}${url.pathname}`;
	log(`downloading ${where}`);
	let res: Response;
	try {
		res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
	} catch (error) {
		throw new SherpaModelFetchError(`could not download ${where}: ${causeOf(error)} (no network, or the address is wrong)`);
	}
	if (!res.ok || !res.body) {
		await res.body?.cancel();
		throw new SherpaModelFetchError(`could not download ${where}: HTTP ${res.status} ${res.statusText}`);
	}
	const declared = Number(res.headers.get('content-length') ?? NaN);
	if (declared > maxBytes) {
		await res.body.cancel();
		throw new SherpaModelFetchError(`${where} is ${declared} bytes, more than the ${maxBytes} accepted`);
	}
	const hash = createHash('sha256');
	const out = fs.openSync(file, 'w');
	let bytes = 0;
	let lastLog = Date.now();
	try {
		for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
			bytes += chunk.length;
			if (bytes > maxBytes) throw new SherpaModelFetchError(`${where} is more than the ${maxBytes} bytes accepted`);
			hash.update(chunk);
			fs.writeSync(out, chunk);
			if (Date.now() - lastLog > 5000) {
				lastLog = Date.now();
				log(`  ${(bytes / 1e6).toFixed(1)} MB${Number.isFinite(declared) ? ` of ${(declared / 1e6).toFixed(1)} MB` : ''}`);
			}
		}
	} catch (error) {
		if (error instanceof SherpaModelFetchError) throw error;
		throw new SherpaModelFetchError(`the download of ${where} broke off after ${bytes} bytes${Number.isFinite(declared) ? ` of ${declared}` : ''} (truncated): ${causeOf(error)}`);
	} finally {
		fs.closeSync(out);
	}
	if (Number.isFinite(declared) && bytes !== declared) throw new SherpaModelFetchError(`the download of ${where} is truncated: ${bytes} of ${declared} bytes`);
	const got = hash.digest('hex');
	if (got !== sha256) {
		throw new SherpaModelFetchError(`the SHA-256 of ${where} is ${got}, not ${sha256} as TRIBUNE_SHERPA_MODEL_SHA256 says: a different or damaged file (check the hash the release lists)`);
	}
	log(`  ${(bytes / 1e6).toFixed(1)} MB, SHA-256 verified`);
	return bytes;
}

/** Lists, then unpacks: only plain files and directories, at relative paths inside the archive, at most 10000 entries. */
async function unpack(archive: string, into: string): Promise<void> {
	let listing: string;
	try {
		listing = (await execFileAsync('tar', ['--list', '--verbose', '--bzip2', '--file', archive], { maxBuffer: 64 * 1024 * 1024 })).stdout;
	} catch (error) {
		throw new SherpaModelFetchError(`the archive is damaged or not a .tar.bz2 (tar: ${tarMessage(error)})`);
	}
	const entries = listing.split('\n').filter((l) => l.trim() !== '');
	if (entries.length > 10_000) throw new SherpaModelFetchError(`the archive holds ${entries.length} entries, more than a model needs`);
	for (const entry of entries) {
		const type = entry[0];
		// `tar -tv` lines: mode (its first letter the type), owner, size, date, time, name.
		const name = entry.split(/\s+/).slice(5).join(' ');
		if (type !== '-' && type !== 'd') throw new SherpaModelFetchError(`the archive holds something other than files and directories (${name}): refused`);
		if (path.isAbsolute(name) || name.split('/').includes('..')) throw new SherpaModelFetchError(`the archive holds a path outside itself (${name}): refused`);
	}
	fs.mkdirSync(into, { recursive: true });
	try {
		await execFileAsync('tar', ['--extract', '--bzip2', '--file', archive, '--directory', into, '--no-same-owner', '--no-same-permissions'], { maxBuffer: 16 * 1024 * 1024 });
	} catch (error) {
		throw new SherpaModelFetchError(`the archive is damaged (tar: ${tarMessage(error)})`);
	}
}

/** The archive's model directory: the one directory (its root or below, two levels at most) holding tokens.txt. */
function findModelDir(root: string): string {
	const found: string[] = [];
	const walk = (dir: string, depth: number): void => {
		if (fs.existsSync(path.join(dir, 'tokens.txt'))) found.push(dir);
		if (depth === 2) return;
		for (const entry of fs.readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) walk(path.join(dir, entry.name), depth + 1);
	};
	walk(root, 0);
	if (found.length !== 1) {
		throw new SherpaModelFetchError(found.length === 0
			? 'the archive holds no tokens.txt: not a sherpa-onnx model'
			: `the archive holds several models (${found.map((d) => path.relative(root, d) || '.').join(', ')}): expected one`);
	}
	const problems = sherpaModelProblems(found[0]!);
	if (problems.length > 0) throw new SherpaModelFetchError(`the archive is not a streaming transducer model: ${problems.map((p) => p.replaceAll(root, '<archive>')).join('; ')}`);
	return found[0]!;
}

function causeOf(error: unknown): string {
	// fetch() throws "fetch failed" with the socket's error as its cause (an AggregateError when several addresses were tried).
	const cause = (error as { cause?: { code?: string; message?: string; errors?: { code?: string; message?: string }[] } }).cause;
	const inner = cause?.code ? cause : cause?.errors?.find((e) => e.code) ?? cause;
	if (inner?.code) return `${inner.code}${inner.message ? ` (${inner.message})` : ''}`;
	if ((error as Error).name === 'TimeoutError') return 'timed out';
	const message = error instanceof Error ? error.message : String(error);
	return inner?.message ? `${message}: ${inner.message}` : message;
}

function tarMessage(error: unknown): string {
	const stderr = (error as { stderr?: string }).stderr?.trim();
	return (stderr || (error instanceof Error ? error.message : String(error))).split('\n').slice(0, 3).join('; ');
}
