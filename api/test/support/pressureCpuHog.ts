import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

/**
 * A CPU hog for tests and benches: another busy program on the same machine ("another Tribune node busy"), taking
 * `cores` cores at normal priority. Each whole core is one process spinning; a fraction is one more process spinning
 * for that share of every 100 ms (1.5 = one busy process and one at a 50 % duty cycle). Bounded: every process exits
 * by itself after `maxS` seconds and when its parent goes (its IPC channel closes), and stop() kills them; the test
 * process kills any still running when it exits. No network, no files.
 */
export interface CpuHog {
	/** The hog's processes. */
	readonly pids: number[];
	/** CPU seconds the hog has used so far (utime + stime of its processes, /proc). */
	cpuSeconds(): number;
	/** Kills every hog process and waits until they are gone. Idempotent. */
	stop(): Promise<void>;
}

/** Runs in each hog process: argv = [duty 0..1, exit at, start at (ms since the epoch)]. */
const hogScript = `
const duty = Number(process.argv[1]);
const exitAt = Number(process.argv[2]);
const startAt = Number(process.argv[3]);
const periodMs = 100;
// The parent went away (its end of the IPC channel closed): stop at once.
process.on('disconnect', () => process.exit(0));
function tick() {
	const now = Date.now();
	if (now >= exitAt) process.exit(0);
	const busyUntil = now + duty * periodMs;
	while (Date.now() < busyUntil) { /* spin */ }
	// Back to the event loop between slices, so the disconnect and the deadline are seen within a period.
	if (duty >= 1) setImmediate(tick);
	else setTimeout(tick, periodMs * (1 - duty));
}
setTimeout(tick, Math.max(0, startAt - Date.now()));
`;

const running = new Set<ChildProcess>();
let exitHookInstalled = false;
let clockTicks: number | undefined;

function ticksPerSecond(): number {
	// CLK_TCK is 100 on every Linux this runs on; /proc/self/auxv would tell otherwise, which is not worth its cost.
	return (clockTicks ??= 100);
}

function processCpuSeconds(pid: number): number {
	try {
		const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
		const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
		return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
	} catch {
		return 0;
	}
}

/**
 * Starts a hog taking `cores` cores (0: none) for at most `maxS` seconds from now; with `delayS`, its processes start
 * now and spin only from then on (load that arrives while a broadcast is on air).
 */
export function startCpuHog(cores: number, maxS: number, delayS = 0): CpuHog {
	if (!(cores >= 0) || !Number.isFinite(cores)) throw new RangeError(`startCpuHog: cores ${cores} is not a non-negative number`);
	if (!(maxS > 0) || maxS > 3600) throw new RangeError(`startCpuHog: maxS ${maxS} is not in (0, 3600]`);
	if (!(delayS >= 0) || delayS >= maxS) throw new RangeError(`startCpuHog: delayS ${delayS} is not in [0, maxS)`);
	if (!exitHookInstalled) {
		exitHookInstalled = true;
		process.once('exit', () => {
			for (const child of running) child.kill('SIGKILL');
		});
	}
	const exitAt = Date.now() + maxS * 1000;
	const startAt = Date.now() + delayS * 1000;
	const children: ChildProcess[] = [];
	// Whole cores first, then the fraction left (if more than a rounding error).
	for (let left = cores; left > 0.01; left -= 1) {
		const duty = Math.min(1, left);
		const child = spawn(process.execPath, ['-e', hogScript, String(duty), String(exitAt), String(startAt)], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
		running.add(child);
		child.once('exit', () => running.delete(child));
		children.push(child);
	}
	// Kept past their exit, so what they used stays counted (a gone process reads 0).
	const used = new Map<number, number>();
	const read = (): number => {
		for (const child of children) if (child.exitCode === null && child.signalCode === null && child.pid) used.set(child.pid, processCpuSeconds(child.pid));
		return [...used.values()].reduce((sum, s) => sum + s, 0);
	};
	let stopped: Promise<void> | undefined;
	return {
		pids: children.map((c) => c.pid!).filter((pid) => pid !== undefined),
		cpuSeconds: read,
		stop() {
			stopped ??= (async () => {
				read();
				await Promise.all(children.map((child) => {
					if (child.exitCode !== null || child.signalCode !== null) return undefined;
					const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
					child.kill('SIGKILL');
					return gone;
				}));
			})();
			return stopped;
		},
	};
}
