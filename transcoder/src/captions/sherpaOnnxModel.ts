import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/** The files of a streaming transducer model (zipformer, conformer, LSTM) as sherpa-onnx's online recogniser loads them. */
export interface SherpaModelFiles {
	/** The directory the user named (absolute). */
	dir: string;
	tokens: string;
	encoder: string;
	decoder: string;
	joiner: string;
}

/** The npm package the sherpa-onnx engine loads; it pulls in the prebuilt native addon for this platform. */
export const sherpaOnnxPackage = 'sherpa-onnx-node';

const parts = ['encoder', 'decoder', 'joiner'] as const;

/**
 * What is wrong with `dir` as a streaming sherpa-onnx model directory, one line per problem naming the path; empty
 * when it looks loadable. Checks only what can be seen without loading the model (existence, readability, size, the
 * shape of tokens.txt): a model that is there but broken is caught when a recogniser loads it (see
 * `probeSherpaOnnxEngine`).
 */
export function sherpaModelProblems(dir: string): string[] {
	const abs = path.resolve(dir);
	let stat: fs.Stats;
	try {
		stat = fs.statSync(abs);
	} catch {
		return [`model directory ${abs} does not exist`];
	}
	if (!stat.isDirectory()) return [`${abs} is not a directory`];
	let names: string[];
	try {
		names = fs.readdirSync(abs);
	} catch (error) {
		return [`model directory ${abs} cannot be read: ${(error as Error).message}`];
	}
	const problems: string[] = [];
	const tokens = path.join(abs, 'tokens.txt');
	const tokensProblem = fileProblem(tokens) ?? tokensFormatProblem(tokens);
	if (tokensProblem) problems.push(tokensProblem);
	for (const part of parts) {
		const picked = pickOnnx(names, part);
		if (typeof picked !== 'string') {
			problems.push(picked.candidates.length === 0
				? `no ${part} model in ${abs} (expected a file named ${part}*.onnx)`
				: `several ${part} models in ${abs}: ${picked.candidates.join(', ')} (keep one, or one plus its .int8.onnx)`);
			continue;
		}
		const problem = fileProblem(path.join(abs, picked));
		if (problem) problems.push(problem);
	}
	return problems;
}

/** The model files in `dir`; throws with every problem `sherpaModelProblems` finds. */
export function resolveSherpaModelFiles(dir: string): SherpaModelFiles {
	const problems = sherpaModelProblems(dir);
	if (problems.length > 0) throw new Error(`sherpa-onnx model: ${problems.join('; ')}`);
	const abs = path.resolve(dir);
	const names = fs.readdirSync(abs);
	const file = (part: (typeof parts)[number]): string => path.join(abs, pickOnnx(names, part) as string);
	return { dir: abs, tokens: path.join(abs, 'tokens.txt'), encoder: file('encoder'), decoder: file('decoder'), joiner: file('joiner') };
}

/** Why `packageName` cannot be loaded from here, or undefined when it resolves (its native addon is checked on load). */
export function sherpaOnnxPackageProblem(packageName = sherpaOnnxPackage): string | undefined {
	try {
		createRequire(import.meta.url).resolve(packageName);
		return undefined;
	} catch {
		return `the npm package ${packageName} is not installed (npm install in the Tribune checkout installs it as an optional dependency, or npm install ${packageName})`;
	}
}

/**
 * Model releases ship a float and an int8 variant of each part (`encoder-epoch-99-avg-1.onnx` and
 * `encoder-epoch-99-avg-1.int8.onnx`): the int8 one is picked, as it runs about twice as fast on a CPU for a small
 * loss of accuracy. Anything more than one file of each kind is ambiguous.
 */
function pickOnnx(names: readonly string[], part: string): string | { candidates: string[] } {
	const candidates = names.filter((n) => n.startsWith(part) && n.endsWith('.onnx')).sort();
	const int8 = candidates.filter((n) => n.endsWith('.int8.onnx'));
	const float = candidates.filter((n) => !n.endsWith('.int8.onnx'));
	if (int8.length === 1 && float.length <= 1) return int8[0]!;
	if (int8.length === 0 && float.length === 1) return float[0]!;
	return { candidates };
}

function fileProblem(file: string): string | undefined {
	let stat: fs.Stats;
	try {
		stat = fs.statSync(file);
	} catch {
		return `${file} is missing`;
	}
	if (!stat.isFile()) return `${file} is not a file`;
	try {
		fs.accessSync(file, fs.constants.R_OK);
	} catch {
		return `${file} is not readable`;
	}
	if (stat.size === 0) return `${file} is empty`;
	return undefined;
}

/** tokens.txt has one `symbol id` pair per line; a different file there (a README, a BPE model) fails the load later. */
function tokensFormatProblem(file: string): string | undefined {
	const head = fs.readFileSync(file, 'utf8').slice(0, 4096).split('\n')[0] ?? '';
	return /^\S+\s+\d+\s*$/.test(head) ? undefined : `${file} is not a sherpa-onnx tokens file (lines of "symbol id")`;
}
