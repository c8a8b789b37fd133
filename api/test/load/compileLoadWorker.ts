import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * The load worker runs as its own Node process, outside vitest: transpile its one file (it imports only Node
 * built-ins and `ws`) into the repository's node_modules/.cache, where `ws` resolves, and return the script's path.
 * `source`: another such one-file process (the slowloris of api/test/slowClients.test.ts).
 */
export function compileLoadWorker(source = fileURLToPath(new URL('./loadWorker.ts', import.meta.url))): string {
	const root = path.resolve(path.dirname(source), '../../..');
	const outDir = path.join(root, 'node_modules', '.cache', 'tribune-load');
	fs.mkdirSync(outDir, { recursive: true });
	const { outputText } = ts.transpileModule(fs.readFileSync(source, 'utf8'), {
		compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
		fileName: source,
	});
	const out = path.join(outDir, `${path.basename(source, '.ts')}-${process.pid}.mjs`);
	fs.writeFileSync(out, outputText);
	return out;
}
