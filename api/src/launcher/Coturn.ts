import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { Logger } from 'pino';
import type { EmbeddedTurnConfig } from '../config.js';
import { filesStamp, tcpAccepts, terminate } from './childProcesses.js';

export interface CoturnOptions {
	config: EmbeddedTurnConfig;
	/** The shared secret TURN credentials are minted from (the API's TURN_SECRET). */
	secret: string;
	/** Peers relayed to when `config.peerIps` is unset: the media servers' addresses. */
	mediaIps: readonly string[];
	/** Directory for the configuration file (0600: it holds the secret), pid file and coturn's database. */
	dir: string;
	logger: Logger;
}

const timing = { readyMs: 10_000, stopMs: 5_000, pollMs: 100, restartDelayMs: 1_000, certCheckMs: 60_000 };
const maxRestartsPerMinute = 5;

/**
 * Builds coturn's configuration file. Credentials are the TURN REST API's (`use-auth-secret`): no user list, the API
 * mints a short-lived one per participant. The relay reaches only the media servers (every other peer address is
 * denied: a TURN server open to any peer is a way into the machine's network), holds a bounded number of allocations
 * per credential and in all, and caps each session's bandwidth. Browsers use TURN over UDP, TCP or TLS, never DTLS.
 */
export function coturnConfigFile(options: Pick<CoturnOptions, 'config' | 'secret' | 'mediaIps' | 'dir'>): string {
	const c = options.config;
	const peers = c.peerIps ?? options.mediaIps;
	const lines = [
		'# Written by the Tribune launcher at each start; edits are lost. See docs/DEPLOYING.md.',
		`listening-port=${c.port}`,
		...(c.listenIp ? [`listening-ip=${c.listenIp}`] : []),
		...(c.externalIp ? [`external-ip=${c.externalIp}`] : []),
		`min-port=${c.relayMinPort}`,
		`max-port=${c.relayMaxPort}`,
		'use-auth-secret',
		`static-auth-secret=${options.secret}`,
		`realm=${c.realm}`,
		'fingerprint',
		'no-cli',
		'no-dtls',
		'no-tlsv1',
		'no-tlsv1_1',
		...(c.tls ? [`tls-listening-port=${c.tls.port}`, `cert=${c.tls.certFile}`, `pkey=${c.tls.keyFile}`] : ['no-tls']),
		'no-multicast-peers',
		'denied-peer-ip=0.0.0.0-255.255.255.255',
		'denied-peer-ip=::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
		...peers.map((ip) => `allowed-peer-ip=${ip}`),
		`user-quota=${c.userQuota}`,
		`total-quota=${c.totalQuota}`,
		`max-bps=${c.maxBps}`,
		'stale-nonce=600',
		'no-software-attribute',
		`pidfile=${path.join(options.dir, 'turnserver.pid')}`,
		`userdb=${path.join(options.dir, 'turndb')}`,
		'log-file=stdout',
		'simple-log',
	];
	if (peers.length === 0) throw new Error('TURN: no peer to relay to (set TURN_PEER_IPS or MEDIASOUP_ANNOUNCED_IP)');
	return `${lines.join('\n')}\n`;
}

/**
 * Debian's coturn (`turnserver`), run by the launcher when TURN_EMBEDDED is set: configured from Tribune's variables,
 * its log lines passed into the launcher's log, restarted if it exits on its own (at most 5 times a minute), told
 * to reload its TLS certificate (SIGUSR2) when the files change, and stopped with the launcher.
 */
export class Coturn {
	readonly #options: CoturnOptions;
	readonly #configFile: string;
	#process: ChildProcess;
	#exited: Promise<void>;
	#stopping = false;
	readonly #restarts: number[] = [];
	readonly #certTimer: NodeJS.Timeout | undefined;
	#certStamp: string;

	private constructor(options: CoturnOptions, configFile: string, child: ChildProcess) {
		this.#options = options;
		this.#configFile = configFile;
		this.#process = child;
		this.#exited = this.#watch(child);
		this.#certStamp = this.#stampCert();
		this.#certTimer = options.config.tls ? setInterval(() => this.#checkCert(), timing.certCheckMs).unref() : undefined;
	}

	static async start(options: CoturnOptions): Promise<Coturn> {
		const dir = path.resolve(options.dir);
		fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
		const configFile = path.join(dir, 'turnserver.conf');
		const temporary = `${configFile}.${process.pid}.tmp`;
		fs.rmSync(temporary, { force: true });
		fs.writeFileSync(temporary, coturnConfigFile({ ...options, dir }), { mode: 0o600, flag: 'wx' });
		fs.renameSync(temporary, configFile);
		const child = spawnCoturn(options.config.serverPath, configFile, options.logger);
		const coturn = new Coturn(options, configFile, child);
		await coturn.#waitReady(child);
		options.logger.info({ turnPid: child.pid, port: options.config.port, tlsPort: options.config.tls?.port }, 'coturn started');
		return coturn;
	}

	get pid(): number | undefined {
		return this.#process.pid;
	}

	/** SIGTERM, then SIGKILL after 5 s. Idempotent. */
	async stop(): Promise<void> {
		this.#stopping = true;
		clearInterval(this.#certTimer);
		if (await terminate(this.#process, this.#exited, timing.stopMs)) this.#options.logger.info('coturn stopped');
	}

	async #waitReady(child: ChildProcess): Promise<void> {
		const { listenIp, port } = this.#options.config;
		const host = !listenIp || listenIp === '0.0.0.0' ? '127.0.0.1' : listenIp === '::' ? '::1' : listenIp;
		const deadline = Date.now() + timing.readyMs;
		const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
		for (;;) {
			if (child.exitCode !== null || child.signalCode !== null) throw new Error(`turnserver exited during startup (code ${child.exitCode ?? child.signalCode}); see the launcher's log`);
			if (await Promise.race([tcpAccepts(host, port), spawnError])) return;
			if (Date.now() > deadline) {
				child.kill('SIGKILL');
				throw new Error(`turnserver did not listen on ${host}:${port} within ${timing.readyMs} ms`);
			}
			await new Promise((resolve) => setTimeout(resolve, timing.pollMs));
		}
	}

	#watch(child: ChildProcess): Promise<void> {
		return new Promise((resolve) => {
			child.once('exit', () => {
				resolve();
				if (!this.#stopping && this.#process === child) void this.#restart(child);
			});
		});
	}

	async #restart(dead: ChildProcess): Promise<void> {
		const now = Date.now();
		this.#restarts.push(now);
		while ((this.#restarts[0] ?? now) < now - 60_000) this.#restarts.shift();
		const reason = { turnPid: dead.pid, code: dead.exitCode, signal: dead.signalCode };
		if (this.#restarts.length > maxRestartsPerMinute) {
			this.#options.logger.error(reason, `coturn exited ${maxRestartsPerMinute} times within a minute; not restarting it (speakers behind UDP-blocking firewalls have only TCP candidates now)`);
			return;
		}
		this.#options.logger.error(reason, 'coturn exited unexpectedly; restarting it');
		await new Promise((resolve) => setTimeout(resolve, timing.restartDelayMs));
		if (this.#stopping) return;
		const child = spawnCoturn(this.#options.config.serverPath, this.#configFile, this.#options.logger);
		this.#process = child;
		this.#exited = this.#watch(child);
		try {
			await this.#waitReady(child);
			this.#options.logger.info({ turnPid: child.pid }, 'coturn restarted');
		} catch (error) {
			this.#options.logger.error({ err: error }, 'coturn did not come back');
		}
	}

	#stampCert(): string {
		const tls = this.#options.config.tls;
		return tls ? filesStamp([tls.certFile, tls.keyFile]) : '';
	}

	#checkCert(): void {
		const stamp = this.#stampCert();
		if (stamp === this.#certStamp) return;
		this.#certStamp = stamp;
		// coturn reloads its TLS certificate and key on SIGUSR2 (coturn >= 4.5.2), keeping its allocations.
		if (this.#process.exitCode === null) this.#process.kill('SIGUSR2');
		this.#options.logger.info('TLS certificate files changed; coturn told to reload them');
	}
}

function spawnCoturn(serverPath: string, configFile: string, logger: Logger): ChildProcess {
	// Its own process group: a terminal's Ctrl-C reaches the launcher, which stops coturn after its clients.
	const child = spawn(serverPath, ['-c', configFile], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
	for (const stream of [child.stdout!, child.stderr!]) {
		readline.createInterface({ input: stream }).on('line', (line) => {
			// coturn's own lines (allocations, refusals) go into the launcher's JSON log; errors stand out.
			if (/\bERROR\b|CONFIG ERROR|cannot bind|cannot open|cannot start/i.test(line)) logger.warn({ coturn: line.slice(0, 500) }, 'coturn');
			else logger.debug({ coturn: line.slice(0, 500) }, 'coturn');
		});
	}
	return child;
}
