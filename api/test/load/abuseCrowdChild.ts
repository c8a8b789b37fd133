/**
 * The abusive crowd of `npm run bench:abuse`, in a process of its own so its sockets and CPU are not the test's: bot
 * identities that join a space, raise and lower hands and leave; idle listener sockets parked in another space; a
 * burst of space creations from one address. Compiled alone (compileLoadWorker.ts) and forked, so it imports only
 * Node built-ins and `ws`.
 *
 * Every client speaks for a client address of its own through `X-Forwarded-For`, which a Tribune on loopback
 * believes (loopback is a trusted proxy by default), as an edge in front of it would present a crowd: bots and idle
 * sockets come from many addresses (198.18.0.0/15, RFC 2544's benchmarking range), creations from one (203.0.113.7).
 *
 * IPC, parent → crowd (each answered once, every wait inside bounded):
 *   { type: 'idle', job: IdleJob }       → { type: 'idled', report: IdleReport }   (the sockets stay open)
 *   { type: 'creates', job: CreatesJob } → { type: 'created', report: CreatesReport }
 *   { type: 'bots', job: BotsJob }       → { type: 'botsDone', report: BotsReport }
 *   { type: 'closeIdle' }                → { type: 'idleClosed', report: IdleReport }
 * and { type: 'ready' } once at start.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

export interface IdleJob {
	baseUrl: string;
	wsUrl: string;
	spaceId: string;
	count: number;
	/** Sockets per client address. */
	perAddress: number;
	concurrency: number;
	timeoutMs: number;
}

export interface IdleReport {
	joined: number;
	/** Join refusals and failures, by HTTP status (`0`: no answer) and error code. */
	joinRefusals: Record<string, number>;
	open: number;
	/** Sockets the server closed or refused, by close code or upgrade status (`upgrade <status>`). */
	closeCodes: Record<string, number>;
}

export interface CreatesJob {
	baseUrl: string;
	/** Attempts without any credential. */
	anonymous: number;
	/** Host credentials (from redeemed invites) and the attempts made with each, one after another. */
	credentials: string[];
	perCredential: number;
	/** The one client address every attempt comes from. */
	address: string;
	concurrency: number;
}

export interface CreatesReport {
	/** `<status> <code>` → attempts, for attempts without and with a host credential. */
	anonymous: Record<string, number>;
	withCredential: Record<string, number>;
	/** Refusals 429/503 that said when to retry (Retry-After), and those that did not. */
	retryAfter: { with: number; without: number };
	/** Spaces created (201), by credential index. */
	createdPerCredential: number[];
	durationMs: number;
}

export interface BotsJob {
	baseUrl: string;
	wsUrl: string;
	spaceId: string;
	count: number;
	/** Bots start evenly over this long (later if `maxInFlight` holds them back). */
	spreadMs: number;
	/** Bots alive at once, at most. */
	maxInFlight: number;
	/** Bots per client address. */
	perAddress: number;
	/** Bots not started by then are not started; every bot's own steps time out after `stepTimeoutMs`. */
	deadlineMs: number;
	stepTimeoutMs: number;
}

export interface BotsReport {
	started: number;
	joined: number;
	joinRefusals: Record<string, number>;
	connected: number;
	/** Sockets refused or closed by the server before the bot closed them, by code. */
	closeCodes: Record<string, number>;
	raised: number;
	lowered: number;
	/** Refused hand requests, by error code (`hand_queue_full`, `rate_limited`, …). */
	handRefusals: Record<string, number>;
	/** Bots that left with their hand up (the server lowers it a while after). */
	leftRaised: number;
	timeouts: number;
	/** Largest number of bots alive at once. */
	peakInFlight: number;
	durationMs: number;
	/** Distinct anonymous identities the server handed out. */
	identities: number;
}

type ParentMessage =
	| { type: 'idle'; job: IdleJob }
	| { type: 'creates'; job: CreatesJob }
	| { type: 'bots'; job: BotsJob }
	| { type: 'closeIdle' };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const now = (): number => performance.now();

function bump(counts: Record<string, number>, key: string): void {
	counts[key] = (counts[key] ?? 0) + 1;
}

/** Client address number `n` in 198.18.0.0/15 (`second` picks the upper /16, so two crowds never share one). */
function crowdAddress(n: number, second: boolean): string {
	return `198.${second ? 19 : 18}.${(n >> 8) & 255}.${n & 255}`;
}

interface Answer {
	status: number;
	body: Record<string, unknown>;
	retryAfter: string | null;
}

/** One JSON request; status 0 when nothing answered in `timeoutMs`. */
async function request(url: string, init: { method: string; address: string; body?: unknown; bearer?: string; timeoutMs: number }): Promise<Answer> {
	try {
		const res = await fetch(url, {
			method: init.method,
			headers: {
				'content-type': 'application/json',
				'x-forwarded-for': init.address,
				...(init.bearer ? { authorization: `Bearer ${init.bearer}` } : {}),
			},
			...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
			signal: AbortSignal.timeout(init.timeoutMs),
		});
		const text = await res.text();
		let body: Record<string, unknown> = {};
		try {
			body = JSON.parse(text) as Record<string, unknown>;
		} catch {
			// Not JSON (a proxy's or Node's own refusal): the status says enough.
		}
		return { status: res.status, body, retryAfter: res.headers.get('retry-after') };
	} catch {
		return { status: 0, body: {}, retryAfter: null };
	}
}

const errorCode = (answer: Answer): string => ((answer.body.error as { code?: string } | undefined)?.code ?? '');
const outcome = (answer: Answer): string => `${answer.status}${errorCode(answer) ? ` ${errorCode(answer)}` : ''}`;

/**
 * A signaling connection reduced to what a bot needs: requests with replies (bounded waits) and how it ended.
 * Events are read only for their reply ids; a bot ignores the crowd's news.
 */
class BotSocket {
	readonly socket: WebSocket;
	readonly opened: Promise<boolean>;
	closeCode: string | undefined;
	#closedByUs = false;
	readonly #pending = new Map<number, (reply: { ok: boolean; code?: string }) => void>();
	#nextId = 1;

	constructor(wsUrl: string, token: string, address: string, timeoutMs: number) {
		// The token as the player sends it (protocol.ts `authSubprotocols`; this file is compiled alone).
		this.socket = new WebSocket(wsUrl, ['tribune.v1', `tribune.token.${token}`], { perMessageDeflate: false, headers: { 'x-forwarded-for': address }, handshakeTimeout: timeoutMs });
		this.opened = new Promise<boolean>((resolve) => {
			this.socket.once('open', () => resolve(true));
			this.socket.once('close', () => resolve(false));
		});
		this.socket.on('error', () => {});
		this.socket.on('unexpected-response', (_req, res) => {
			this.closeCode = `upgrade ${res.statusCode ?? 0}`;
			res.resume();
			this.socket.terminate();
		});
		this.socket.on('message', (raw: Buffer) => {
			// Replies start with {"id": — events ({"event": …) are skipped without parsing.
			if (raw[2] !== 0x69 || raw[3] !== 0x64) return;
			try {
				const reply = JSON.parse(raw.toString()) as { id: number | null; ok: boolean; error?: { code: string } };
				if (reply.id === null) return;
				this.#pending.get(reply.id)?.({ ok: reply.ok, ...(reply.error && { code: reply.error.code }) });
				this.#pending.delete(reply.id);
			} catch {
				// A reply that does not parse counts as none (the bot's step times out).
			}
		});
		this.socket.on('close', (code) => {
			if (!this.#closedByUs) this.closeCode ??= String(code);
			for (const resolve of this.#pending.values()) resolve({ ok: false, code: 'closed' });
			this.#pending.clear();
		});
	}

	/** Sends a request; resolves with its outcome (`timeout` after `timeoutMs`, `closed` if the socket went). */
	send(name: string, timeoutMs: number): Promise<{ ok: boolean; code?: string }> {
		if (this.socket.readyState !== WebSocket.OPEN) return Promise.resolve({ ok: false, code: 'closed' });
		const id = this.#nextId++;
		return new Promise((resolve) => {
			const timer = setTimeout(() => {
				this.#pending.delete(id);
				resolve({ ok: false, code: 'timeout' });
			}, timeoutMs);
			this.#pending.set(id, (reply) => {
				clearTimeout(timer);
				resolve(reply);
			});
			this.socket.send(JSON.stringify({ id, name, data: {} }));
		});
	}

	close(): void {
		this.#closedByUs = true;
		this.socket.terminate();
	}
}

// ---------------------------------------------------------------- idle sockets

const idleSockets: BotSocket[] = [];
const idleReport: IdleReport = { joined: 0, joinRefusals: {}, open: 0, closeCodes: {} };

async function runIdle(job: IdleJob): Promise<IdleReport> {
	let next = 0;
	const deadline = now() + job.timeoutMs;
	const worker = async (): Promise<void> => {
		while (next < job.count && now() < deadline) {
			const i = next++;
			const address = crowdAddress(Math.floor(i / job.perAddress) + 1, true);
			const joined = await request(`${job.baseUrl}/api/spaces/${job.spaceId}/join`, { method: 'POST', address, body: { displayName: `Idle ${i + 1}` }, timeoutMs: 10_000 });
			if (joined.status !== 200 || typeof joined.body.token !== 'string') {
				bump(idleReport.joinRefusals, outcome(joined));
				continue;
			}
			idleReport.joined++;
			const socket = new BotSocket(job.wsUrl, joined.body.token, address, 10_000);
			idleSockets.push(socket);
			await socket.opened;
		}
	};
	await Promise.all(Array.from({ length: Math.max(1, job.concurrency) }, worker));
	return idleSummary();
}

function idleSummary(): IdleReport {
	const closeCodes: Record<string, number> = {};
	for (const s of idleSockets) if (s.closeCode !== undefined) bump(closeCodes, s.closeCode);
	return { ...idleReport, open: idleSockets.filter((s) => s.socket.readyState === WebSocket.OPEN).length, closeCodes };
}

// ---------------------------------------------------------------- creations from one address

async function runCreates(job: CreatesJob): Promise<CreatesReport> {
	const started = now();
	const report: Omit<CreatesReport, 'durationMs'> = { anonymous: {}, withCredential: {}, retryAfter: { with: 0, without: 0 }, createdPerCredential: job.credentials.map(() => 0) };
	// With credentials first: anonymous attempts may use up the address's bucket, which would hide the per-identity limit.
	const attempts: { credential: number | undefined }[] = [
		...job.credentials.flatMap((_, k) => Array.from({ length: job.perCredential }, () => ({ credential: k }))),
		...Array.from({ length: job.anonymous }, () => ({ credential: undefined })),
	];
	let next = 0;
	const worker = async (): Promise<void> => {
		while (next < attempts.length) {
			const { credential } = attempts[next++]!;
			const bearer = credential === undefined ? undefined : job.credentials[credential];
			const answer = await request(`${job.baseUrl}/api/spaces`, {
				method: 'POST',
				address: job.address,
				body: { title: 'Not a real space', hostName: 'Spammer' },
				...(bearer && { bearer }),
				timeoutMs: 10_000,
			});
			bump(credential === undefined ? report.anonymous : report.withCredential, outcome(answer));
			if (answer.status === 201 && credential !== undefined) report.createdPerCredential[credential]!++;
			if (answer.status === 429 || answer.status === 503) {
				if (answer.retryAfter) report.retryAfter.with++;
				else report.retryAfter.without++;
			}
		}
	};
	await Promise.all(Array.from({ length: Math.max(1, job.concurrency) }, worker));
	return { ...report, durationMs: Math.round(now() - started) };
}

// ---------------------------------------------------------------- bots

/** The `sub` of a JWT (the anonymous identity a join handed out), read without verifying: the server signed it. */
function subjectOf(jwt: string): string {
	try {
		return String((JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()) as { sub?: unknown }).sub);
	} catch {
		return jwt;
	}
}

/**
 * What one bot does, by its number: join, connect, raise its hand, then
 * 0: lower it and leave; 1: leave with it raised (the server lowers it later); 2: lower, raise again, lower, leave;
 * 3: leave without raising it.
 */
async function runBot(i: number, job: BotsJob, report: BotsReport, identities: Set<string>): Promise<void> {
	const address = crowdAddress(Math.floor(i / job.perAddress) + 1, false);
	const joined = await request(`${job.baseUrl}/api/spaces/${job.spaceId}/join`, { method: 'POST', address, body: { displayName: `Bot ${i + 1}` }, timeoutMs: job.stepTimeoutMs });
	if (joined.status !== 200 || typeof joined.body.token !== 'string') {
		if (joined.status === 0) report.timeouts++;
		bump(report.joinRefusals, outcome(joined));
		return;
	}
	report.joined++;
	if (typeof joined.body.identity === 'string') identities.add(subjectOf(joined.body.identity));
	const bot = new BotSocket(job.wsUrl, joined.body.token, address, job.stepTimeoutMs);
	try {
		if (!(await bot.opened)) return;
		report.connected++;
		const behaviour = i % 4;
		await sleep(200 + ((i * 7919) % 800));
		if (behaviour === 3) return;
		const hand = async (name: 'raiseHand' | 'lowerHand'): Promise<boolean> => {
			const reply = await bot.send(name, job.stepTimeoutMs);
			if (reply.ok) report[name === 'raiseHand' ? 'raised' : 'lowered']++;
			else if (reply.code === 'timeout') report.timeouts++;
			else bump(report.handRefusals, `${name} ${reply.code ?? ''}`);
			return reply.ok;
		};
		if (!(await hand('raiseHand'))) return;
		await sleep(300 + ((i * 104_729) % 1200));
		if (behaviour === 1) {
			report.leftRaised++;
			return;
		}
		await hand('lowerHand');
		if (behaviour === 2 && (await hand('raiseHand'))) {
			await sleep(200);
			await hand('lowerHand');
		}
	} finally {
		if (bot.closeCode !== undefined) bump(report.closeCodes, bot.closeCode);
		bot.close();
	}
}

async function runBots(job: BotsJob): Promise<BotsReport> {
	const report: BotsReport = {
		started: 0, joined: 0, joinRefusals: {}, connected: 0, closeCodes: {}, raised: 0, lowered: 0, handRefusals: {}, leftRaised: 0, timeouts: 0, peakInFlight: 0, durationMs: 0, identities: 0,
	};
	const identities = new Set<string>();
	const started = now();
	let inFlight = 0;
	let next = 0;
	const running = new Set<Promise<void>>();
	// Launch on schedule (count spread over spreadMs), never more than maxInFlight alive, nothing after the deadline.
	while (next < job.count && now() - started < job.deadlineMs) {
		const due = Math.min(job.count, Math.floor(((now() - started) / job.spreadMs) * job.count) + 1);
		while (next < due && inFlight < job.maxInFlight) {
			const i = next++;
			inFlight++;
			report.started++;
			report.peakInFlight = Math.max(report.peakInFlight, inFlight);
			const bot = runBot(i, job, report, identities)
				.catch(() => void report.timeouts++)
				.finally(() => {
					inFlight--;
					running.delete(bot);
				});
			running.add(bot);
		}
		await sleep(20);
	}
	// Every bot's steps are bounded (stepTimeoutMs each, a few steps): wait for the last ones as long as that.
	await Promise.race([Promise.all(running), sleep(job.stepTimeoutMs * 6)]);
	return { ...report, identities: identities.size, durationMs: Math.round(now() - started) };
}

// ---------------------------------------------------------------- process

function send(message: unknown): void {
	process.send?.(message);
}

process.on('message', (message: ParentMessage) => {
	switch (message.type) {
		case 'idle':
			void runIdle(message.job).then((report) => send({ type: 'idled', report }));
			break;
		case 'creates':
			void runCreates(message.job).then((report) => send({ type: 'created', report }));
			break;
		case 'bots':
			void runBots(message.job).then((report) => send({ type: 'botsDone', report }));
			break;
		case 'closeIdle': {
			const report = idleSummary();
			for (const s of idleSockets) s.close();
			send({ type: 'idleClosed', report });
			break;
		}
	}
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
