import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

/**
 * Stops a server process the launcher runs: SIGTERM (it saves and exits), SIGKILL after `graceMs`. Resolves with
 * whether it was still running, once `exited` (the caller's promise of its exit) has settled.
 */
export async function terminate(child: ChildProcess, exited: Promise<void>, graceMs: number): Promise<boolean> {
	if (child.exitCode !== null || child.signalCode !== null) return false;
	child.kill('SIGTERM');
	const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
	await exited;
	clearTimeout(timer);
	return true;
}

/**
 * What `files` are now, through symlinks: inode, size and modification time of each ('missing' if absent). Two
 * stamps differ when a file was replaced or rewritten, as a certificate renewal does.
 */
export function filesStamp(files: readonly string[]): string {
	return files.map((file) => {
		try {
			const s = fs.statSync(file);
			return `${s.ino}:${s.size}:${s.mtimeMs}`;
		} catch {
			return 'missing';
		}
	}).join('|');
}

/** Whether `host:port` accepts a TCP connection now (1 s at most). */
export function tcpAccepts(host: string, port: number): Promise<boolean> {
	return new Promise((resolve) => {
		const socket = net.connect({ host, port });
		socket.setTimeout(1000, () => socket.destroy());
		socket.once('connect', () => {
			socket.destroy();
			resolve(true);
		});
		socket.once('error', () => resolve(false));
		socket.once('close', () => resolve(false));
	});
}
