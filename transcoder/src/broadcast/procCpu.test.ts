import { describe, expect, it } from 'vitest';
import { idleCoresBetween, parseMachineCpu, parseProcessCpuMs, parseSchedstat, readMainThreadSchedMs, readProcessCpuMs, readProcessWaitMs } from './procCpu.js';

describe('procCpu', () => {
	it('reads utime + stime from /proc/<pid>/stat, a command name with spaces and parentheses included', () => {
		const stat = '4242 (ffmpeg (x) y) S 1 4242 1 0 -1 4194304 100 0 0 0 1234 567 0 0 20 0 4 0 3087681 3133440 413';
		expect(parseProcessCpuMs(stat)).toBe((1234 + 567) * 10);
	});

	it('reads this process\'s own CPU time', async () => {
		expect(await readProcessCpuMs(process.pid)).toBeGreaterThan(0);
		expect(await readProcessCpuMs(2 ** 22 + 7)).toBeUndefined();
	});

	it('tells idle cores between two /proc/stat readings', () => {
		const before = parseMachineCpu('cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 50 0 50 400 0 0 0 0 0 0\n')!;
		const after = parseMachineCpu('cpu  250 0 150 1000 0 0 0 0 0 0\n')!;
		// 400 ticks passed, 200 of them idle: half of 2 cores.
		expect(idleCoresBetween(before, after, 2)).toBe(1);
		expect(parseMachineCpu('intr 1 2 3')).toBeUndefined();
	});

	it('counts time spent at a lower priority (nice) as free for a normal-priority encoder', () => {
		const before = parseMachineCpu('cpu  100 0 100 800 0 0 0 0 0 0\n')!;
		// 400 ticks: 100 user, 100 niced (captions), 50 system, 150 idle.
		const after = parseMachineCpu('cpu  200 100 150 950 0 0 0 0 0 0\n')!;
		expect(idleCoresBetween(before, after, 2)).toBe(1.25);
	});
});

describe('parseSchedstat', () => {
	it("reads a thread's time on a CPU and time waiting for one, ns → ms", () => {
		expect(parseSchedstat('3934318 7542080 5\n')).toEqual({ runMs: 3.934318, waitMs: 7.54208 });
		expect(parseSchedstat('')).toBeUndefined();
		expect(parseSchedstat('x y z')).toBeUndefined();
	});

	it('reads this process from /proc', async () => {
		const sched = await readMainThreadSchedMs(process.pid);
		expect(sched?.runMs).toBeGreaterThan(0);
		expect(await readMainThreadSchedMs(2 ** 30)).toBeUndefined();
		expect(await readProcessWaitMs(process.pid)).toBeGreaterThanOrEqual(0);
		expect(await readProcessWaitMs(2 ** 30)).toBeUndefined();
	});
});
