import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';

/** Where one redis-server of the set runs, and how to start a process there (default: this host). */
export interface RedisPlace {
	host: string;
	port: number;
	/** Starts `command` with `args` there (a namespace's `spawn`, for machines in namespaces). */
	spawn?: (command: string, args: readonly string[]) => ChildProcess;
}

/** Master name the sentinels monitor, as REDIS_URL names it. */
export const sentinelMasterName = 'tribune';

/**
 * A Redis primary, a replica and three sentinels (Debian's redis-server; `--sentinel` is redis-sentinel), as a
 * small production would run them: quorum 2, a primary declared down after `downAfterMs`. Each process can be
 * killed (a primary's machine going away) and everything is stopped by `stop()`.
 */
export class RedisSentinelSet {
	readonly primary: RedisPlace;
	readonly replica: RedisPlace;
	readonly sentinels: readonly RedisPlace[];
	readonly #processes = new Map<string, ChildProcess>();
	readonly #output = new Map<string, string>();

	private constructor(primary: RedisPlace, replica: RedisPlace, sentinels: readonly RedisPlace[]) {
		this.primary = primary;
		this.replica = replica;
		this.sentinels = sentinels;
	}

	/** Starts the set in `dir` (config files and logs) and waits until every sentinel sees the replica (≤ 30 s). */
	static async start(dir: string, places: { primary: RedisPlace; replica: RedisPlace; sentinels: readonly RedisPlace[] }, downAfterMs = 1000): Promise<RedisSentinelSet> {
		const set = new RedisSentinelSet(places.primary, places.replica, places.sentinels);
		try {
			const serverArgs = (place: RedisPlace, name: string) => [
				'--port', String(place.port), '--bind', place.host, '--protected-mode', 'no', '--dir', dir,
				'--dbfilename', `${name}.rdb`, '--save', '', '--appendonly', 'no', '--logfile', path.join(dir, `${name}.log`),
				// A replica that loses its primary must say so (error) rather than serve stale data as current.
				'--replica-serve-stale-data', 'no',
			];
			set.#start('primary', places.primary, 'redis-server', serverArgs(places.primary, 'primary'));
			set.#start('replica', places.replica, 'redis-server', [...serverArgs(places.replica, 'replica'), '--replicaof', places.primary.host, String(places.primary.port)]);
			await Promise.all([set.#waitPort(places.primary), set.#waitPort(places.replica)]);
			places.sentinels.forEach((place, index) => {
				const conf = path.join(dir, `sentinel-${index}.conf`);
				// Sentinel rewrites its configuration file as it learns the set: each needs a writable one of its own.
				fs.writeFileSync(conf, [
					`port ${place.port}`,
					`bind ${place.host}`,
					'protected-mode no',
					`dir ${dir}`,
					`logfile ${path.join(dir, `sentinel-${index}.log`)}`,
					`sentinel monitor ${sentinelMasterName} ${places.primary.host} ${places.primary.port} 2`,
					`sentinel down-after-milliseconds ${sentinelMasterName} ${downAfterMs}`,
					`sentinel failover-timeout ${sentinelMasterName} 10000`,
					`sentinel parallel-syncs ${sentinelMasterName} 1`,
					'',
				].join('\n'));
				set.#start(`sentinel-${index}`, place, 'redis-server', [conf, '--sentinel']);
			});
			await Promise.all(places.sentinels.map((place) => set.#waitPort(place)));
			await set.#until('every sentinel to know the replica and the other sentinels', async () => {
				for (const place of places.sentinels) {
					const sentinel = new Redis({ host: place.host, port: place.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
					try {
						await sentinel.connect();
						const master = (await sentinel.call('SENTINEL', 'MASTER', sentinelMasterName)) as string[];
						const field = (name: string) => master[master.indexOf(name) + 1];
						if (Number(field('num-slaves')) < 1 || Number(field('num-other-sentinels')) < places.sentinels.length - 1) return false;
					} finally {
						sentinel.disconnect();
					}
				}
				return true;
			}, 30_000);
			return set;
		} catch (error) {
			await set.stop();
			throw error;
		}
	}

	/** REDIS_URL for Tribune: the sentinels, the master name. */
	get url(): string {
		return `redis+sentinel://${this.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}/${sentinelMasterName}`;
	}

	/** The primary as the sentinels name it now (`host:port`), from the first that answers. */
	async currentPrimary(): Promise<string | undefined> {
		for (const place of this.sentinels) {
			const sentinel = new Redis({ host: place.host, port: place.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
			try {
				await sentinel.connect();
				const [host, port] = (await sentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', sentinelMasterName)) as [string, string];
				return `${host}:${port}`;
			} catch {
				// This sentinel is away: ask the next.
			} finally {
				sentinel.disconnect();
			}
		}
		return undefined;
	}

	/** Kills one of the set's processes with SIGKILL and waits for it to exit. */
	async kill(name: 'primary' | 'replica' | `sentinel-${number}`): Promise<void> {
		const child = this.#processes.get(name);
		if (!child || child.exitCode !== null || child.signalCode !== null) return;
		const exited = new Promise((resolve) => child.once('exit', resolve));
		child.kill('SIGKILL');
		await exited;
	}

	/** The last lines of each process's log, for a failure message. */
	logs(dir: string): string {
		return [...this.#processes.keys()].map((name) => {
			const file = path.join(dir, `${name}.log`);
			return `--- ${name}\n${fs.existsSync(file) ? fs.readFileSync(file, 'utf8').slice(-1500) : ''}${this.#output.get(name) ?? ''}`;
		}).join('\n');
	}

	async stop(): Promise<void> {
		await Promise.all([...this.#processes.keys()].map((name) => this.kill(name as 'primary')));
	}

	#start(name: string, place: RedisPlace, command: string, args: readonly string[]): void {
		const child = place.spawn ? place.spawn(command, args) : spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
		const keep = (chunk: Buffer) => this.#output.set(name, ((this.#output.get(name) ?? '') + chunk.toString()).slice(-2000));
		child.stdout?.on('data', keep);
		child.stderr?.on('data', keep);
		this.#processes.set(name, child);
	}

	async #waitPort(place: RedisPlace): Promise<void> {
		await this.#until(`${place.host}:${place.port} to listen`, () => canConnect(place.host, place.port), 10_000);
	}

	async #until(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
		const deadline = Date.now() + timeoutMs;
		// A probe that throws (a port not open yet) is a "not yet".
		while (!(await probe().catch(() => false))) {
			if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${[...this.#output].map(([n, o]) => `${n}: ${o}`).join('\n')}`);
			await new Promise((resolve) => setTimeout(resolve, 100));
		}
	}
}

function canConnect(host: string, port: number): Promise<boolean> {
	return new Promise((resolve) => {
		const socket = net.connect(port, host);
		socket.once('connect', () => {
			socket.destroy();
			resolve(true);
		});
		socket.once('error', () => resolve(false));
	});
}
