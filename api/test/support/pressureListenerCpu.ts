import fs from 'node:fs';
import { commandOf, descendants } from './processes.js';

/**
 * bench:pressure's listener stands for a phone or a computer elsewhere, with a CPU of its own: the load on the
 * transcoder's machine is not its load. On one bench machine it shares the cores: with one core taken by the hog its
 * page waited for a core 4.7–12.2 s of the ~45 s it listened (up to 2.1 s of the 2 s before a stall), and it stalled
 * with the origin releasing parts on time — the bench's machine, not what the broadcast gave it. With its own share
 * it waited 2.0–3.2 s.
 *
 * Playwright starts Chromium in a session of its own (checked: its own `/proc/<pid>/autogroup`), and with the
 * kernel's autogroups (`/proc/sys/kernel/sched_autogroup_enabled`) the scheduler shares the CPU between sessions
 * first. A nice of −10 on Chromium's group lets the listener run when it is ready, as on its own device, for what it
 * uses (~0.3 core here); the hog, the transcoder, ffmpeg and captions keep competing among themselves, in the
 * bench's session, as before.
 */
export type ListenerCpu = { cpu: 'own' } | { cpu: 'shared'; why?: string };

const autogroupNice = (pid: number): number | undefined => {
	const match = /nice (-?\d+)/.exec(fs.readFileSync(`/proc/${pid}/autogroup`, 'utf8'));
	return match ? Number(match[1]) : undefined;
};
const autogroupOf = (pid: number): string => fs.readFileSync(`/proc/${pid}/autogroup`, 'utf8').split(' ')[0]!;

/** Gives the Chromium started by this process its own CPU share (see above); says what it did, and why not. */
export function giveListenerOwnCpu(nice = -10): ListenerCpu {
	try {
		if (fs.readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() !== '1') return { cpu: 'shared', why: 'the kernel schedules no autogroups' };
		const browser = descendants(process.pid).find((pid) => /chromium/.test(commandOf(pid)) && !/--type=/.test(commandOf(pid)));
		if (browser === undefined) return { cpu: 'shared', why: 'no Chromium started by this process' };
		// Chromium in the bench's own group would take the hog and the transcoder with it.
		if (autogroupOf(browser) === autogroupOf(process.pid)) return { cpu: 'shared', why: "Chromium runs in the bench's own session" };
		fs.writeFileSync(`/proc/${browser}/autogroup`, String(nice));
		if (autogroupNice(browser) !== nice) return { cpu: 'shared', why: `its group's nice did not become ${nice}` };
		return { cpu: 'own' };
	} catch (error) {
		return { cpu: 'shared', why: (error as Error).message };
	}
}
