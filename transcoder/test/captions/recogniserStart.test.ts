import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ChildRecogniserEngine, childRecogniserEngineDefaults } from '../../src/captions/ChildRecogniserEngine.js';

/**
 * A recogniser that is slow to load (using CPU on a starved machine) is waited for; one that is stuck (no CPU time)
 * fails at the start timeout; one that loads for ever fails after four of them. Fake recogniser processes: plain
 * scripts that answer the engine's setup message as a real one would, after burning CPU or not.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-recogniser-start-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const engines: ChildRecogniserEngine[] = [];
afterEach(async () => {
	for (const e of engines.splice(0)) await e.stop();
});

function script(name: string, onSetup: string): string {
	const file = path.join(dir, `${name}.mjs`);
	fs.writeFileSync(
		file,
		`process.on('disconnect', () => process.exit(0));
process.stdin.on('data', () => {});
process.stdin.on('end', () => process.send({ type: 'finished' }, () => process.disconnect()));
process.once('message', () => { ${onSetup} });
setInterval(() => {}, 1000);
`,
	);
	return file;
}

const burn = (ms: number) => `const until = process.cpuUsage().user / 1000 + ${ms}; while (process.cpuUsage().user / 1000 < until) {}`;

function engine(childScript: string): ChildRecogniserEngine {
	const e = new ChildRecogniserEngine({ kind: 'test', name: 'Test', config: {}, checkFiles: () => {} }, { ...childRecogniserEngineDefaults, startTimeoutMs: 400, niceness: 0, childScript });
	engines.push(e);
	return e;
}

describe('a recogniser starting', () => {
	it('is waited for past the start timeout while it uses CPU (slow, not stuck)', async () => {
		// Busy for 700 ms of wall time: past the first look at 400 ms, well within four.
		const e = engine(script('slow', `const until = Date.now() + 700; while (Date.now() < until) {} process.send({ type: 'ready' });`));
		await expect(e.start()).resolves.toBeUndefined();
	});

	it('fails at the start timeout when it uses no CPU (stuck)', async () => {
		const e = engine(script('stuck', ''));
		await expect(e.start()).rejects.toThrow(/Test did not load its model within \d+ ms \(stuck: no CPU time/);
		expect(e.recogniserPid).toBeUndefined();
	});

	it('fails after four start timeouts when it is still working', async () => {
		const e = engine(script('endless', burn(60_000)));
		await expect(e.start()).rejects.toThrow(/Test was still loading its model after \d+ ms \(using CPU: the machine is too busy\)/);
	});
});
