import { probeSherpaOnnxEngine } from './captions/sherpaOnnxPreflight.js';
import { resolveSherpaModelFiles, sherpaOnnxPackageProblem } from './captions/sherpaOnnxModel.js';
import { fetchSherpaModel, SherpaModelFetchError, tribuneCacheDir } from './sherpaModelCache.js';

/**
 * `npm run setup`'s model step (`node transcoder/dist/fetchSherpaModelCli.js`): with TRIBUNE_SHERPA_MODEL_URL and
 * TRIBUNE_SHERPA_MODEL_SHA256 set, downloads, verifies and unpacks the model into TRIBUNE_CACHE_DIR and loads it once;
 * the transcoder then selects sherpa-onnx whenever those variables name a model found there. Exit 0 with neither set
 * (nothing to do) or the model ready (its directory on stdout); otherwise a message on stderr and exit 1 — captions
 * stay on PocketSphinx.
 */
const say = (line: string): void => {
	process.stderr.write(`setup: ${line}\n`);
};

async function main(): Promise<number> {
	const url = process.env.TRIBUNE_SHERPA_MODEL_URL?.trim() || undefined;
	const sha256 = process.env.TRIBUNE_SHERPA_MODEL_SHA256?.trim().toLowerCase() || undefined;
	if (url === undefined && sha256 === undefined) return 0;
	if (url === undefined || sha256 === undefined) {
		say(`error: TRIBUNE_SHERPA_MODEL_URL and TRIBUNE_SHERPA_MODEL_SHA256 go together (only ${url ? 'the URL' : 'the hash'} is set); captions stay on PocketSphinx`);
		return 1;
	}
	const packageProblem = sherpaOnnxPackageProblem();
	if (packageProblem) {
		say(`error: ${packageProblem}; captions stay on PocketSphinx`);
		return 1;
	}
	try {
		const { modelDir, downloaded } = await fetchSherpaModel({
			url,
			sha256,
			cacheDir: tribuneCacheDir(process.env),
			log: (line) => say(line),
			probe: (dir) => probeSherpaOnnxEngine(resolveSherpaModelFiles(dir), { startTimeoutMs: 120_000 }),
		});
		say(`sherpa-onnx model ${downloaded ? 'ready' : 'already in the cache'}: ${modelDir}; captions use sherpa-onnx while these two variables are set`);
		process.stdout.write(`${modelDir}\n`);
		return 0;
	} catch (error) {
		const message = error instanceof SherpaModelFetchError ? error.message : `unexpected: ${error instanceof Error ? error.stack : String(error)}`;
		say(`error: sherpa-onnx model not installed: ${message}; captions stay on PocketSphinx`);
		return 1;
	}
}

process.exitCode = await main();
