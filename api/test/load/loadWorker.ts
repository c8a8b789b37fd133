/**
 * One load-generator process of `npm run bench:audience` (and the soak): simulated LL-HLS listeners or audience
 * WebSockets, driven by its parent over IPC. It is compiled on its own (compileLoadWorker.ts) and forked, so it
 * imports only Node built-ins and `ws`.
 *
 * Efficiency matters more than elegance here: the generator shares two cores with the node it measures. Three
 * keep-alive connections per listener (as a browser holds its connections) with a minimal HTTP/1.1 client, no timer per request (one sweep a second
 * times requests out), bodies counted rather than kept, playlists parsed with one pass over their lines.
 *
 * Playlists are requested without Accept-Encoding (a browser would take gzip, which costs the origin nothing more:
 * it gzips each playlist once).
 *
 * IPC, parent → worker: `start` (the job), `mark` (totals now), `finish` (stop, report), `compute` (reference
 * times → delay histogram). Worker → parent: `ready` (all clients up), `marked`, `ran` (totals; the probe times a WS
 * worker sent), `result`.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

export interface HlsJob {
	role: 'hls';
	/** `http://127.0.0.1:8080` (the origin or the CDN edge in front of it). */
	baseUrl: string;
	/** `/hls/<streamId>/<rendition>/` */
	playlistDir: string;
	listeners: number;
	/** Share of listeners that also fetch the preload-hinted part (as Safari does; hls.js does not). */
	preloadShare: number;
	/** Listeners join evenly over this long. */
	rampMs: number;
}

export interface WsJob {
	role: 'ws';
	wsUrl: string;
	tokens: string[];
	/** Background reactions per second this worker sends (spread over its clients). */
	reactionsPerS: number;
	/** This worker sends the probe reactions (one a second, kind `probeKind`, never used in the background). */
	probes: boolean;
	/** Clients that raise their hand once (and lower it 5 s later). */
	handRaisers: number;
	rampMs: number;
}

type ParentMessage = { type: 'start'; job: HlsJob | WsJob } | { type: 'mark' } | { type: 'finish' } | { type: 'compute'; refs: [number, number][]; fromMs: number; toMs: number };

export const probeKind = 'thinking';
const backgroundKinds = ['clap', 'laugh', 'heart', 'hundred', 'fire'] as const;
const requestTimeoutMs = 15_000;
const maxPartsBehind = 6;

/** Wall clock with sub-millisecond resolution, comparable across processes on one machine. */
const now = (): number => performance.timeOrigin + performance.now();

/** Delays in 1 ms buckets from -1 s to 59 s (a negative delay: delivered before the reference saw it). */
class Histogram {
	readonly counts = new Uint32Array(60_000);
	add(delayMs: number): void {
		const bucket = Math.min(this.counts.length - 1, Math.max(0, Math.round(delayMs) + 1000));
		this.counts[bucket] = (this.counts[bucket] ?? 0) + 1;
	}
	/** Non-empty buckets as [delayMs, count]. */
	sparse(): [number, number][] {
		const out: [number, number][] = [];
		this.counts.forEach((count, bucket) => {
			if (count > 0) out.push([bucket - 1000, count]);
		});
		return out;
	}
}

interface Totals {
	requests: number;
	errors: number;
	/** Times a listener had fallen behind and jumped to the live edge. */
	liveSyncs: number;
	bytes: number;
	errorSamples: string[];
}

const totals: Totals = { requests: 0, errors: 0, liveSyncs: 0, bytes: 0, errorSamples: [] };
/** Errors by kind (numbers elided), for the report. */
const errorKinds = new Map<string, number>();
function countError(what: string): void {
	totals.errors++;
	const kind = what.replace(/\d+/g, 'N');
	errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
	if (totals.errorSamples.length < 20) totals.errorSamples.push(what);
}

/** The most frequent error kinds with their counts. */
function topErrorKinds(): string[] {
	return [...errorKinds.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([kind, n]) => `${n}× ${kind}`);
}

// ---------------------------------------------------------------- LL-HLS listeners

type Done = (status: number, body: Buffer | undefined, length: number) => void;

interface Pending {
	path: string;
	keepBody: boolean;
	done: Done;
	startedMs: number;
}

const crlfcrlf = Buffer.from('\r\n\r\n');
const connections = new Set<HttpConnection>();

/**
 * One keep-alive HTTP/1.1 connection that runs its GETs one after another: a request is one preformatted write, a
 * response is parsed from the status line and Content-Length (the origin and nginx always send it). Much cheaper
 * than http.Agent + ClientRequest + IncomingMessage per request, which would make the generator the bottleneck.
 */
class HttpConnection {
	readonly #host: string;
	readonly #port: number;
	#socket: net.Socket | undefined;
	readonly #queue: Pending[] = [];
	#current: Pending | undefined;
	#head: Buffer | undefined;
	#status = 0;
	#remaining = 0;
	#length = 0;
	#chunks: Buffer[] = [];
	#hostHeader: string;

	constructor(host: string, port: number) {
		this.#host = host;
		this.#port = port;
		this.#hostHeader = `${host}:${port}`;
		connections.add(this);
	}

	get(path: string, keepBody: boolean, done: Done): void {
		totals.requests++;
		this.#queue.push({ path, keepBody, done, startedMs: Date.now() });
		if (!this.#current) this.#next();
	}

	/** Requests waiting behind the one in flight. */
	get queued(): number {
		return this.#queue.length;
	}

	/** Forgets the requests not sent yet (a player that jumps ahead no longer wants them). */
	dropQueued(): void {
		this.#queue.length = 0;
	}

	/** The request in flight has run longer than `cutoffMs` allows: drop the connection (the sweep calls this). */
	expire(cutoffMs: number): void {
		const oldest = this.#current ?? this.#queue[0];
		if (oldest && oldest.startedMs < cutoffMs) {
			countError('timeout');
			this.#fail();
		}
	}

	close(): void {
		connections.delete(this);
		this.#queue.length = 0;
		this.#current = undefined;
		this.#socket?.destroy();
		this.#socket = undefined;
	}

	#next(): void {
		const request = this.#queue.shift();
		this.#current = request;
		if (!request) return;
		this.#head = undefined;
		this.#chunks = [];
		const socket = this.#socket ?? this.#connect();
		socket.write(`GET ${request.path} HTTP/1.1\r\nHost: ${this.#hostHeader}\r\n\r\n`);
	}

	#connect(): net.Socket {
		const socket = net.connect(this.#port, this.#host);
		socket.setNoDelay(true);
		socket.on('data', (chunk: Buffer) => this.#onData(chunk));
		socket.on('error', () => {});
		socket.on('close', () => {
			if (this.#socket !== socket) return;
			this.#socket = undefined;
			if (this.#current) this.#fail();
		});
		this.#socket = socket;
		return socket;
	}

	/** Fails the request in flight and every queued one (status 0), on a fresh connection next time. */
	#fail(): void {
		const failed = [this.#current, ...this.#queue].filter((r): r is Pending => r !== undefined);
		this.#queue.length = 0;
		this.#current = undefined;
		const socket = this.#socket;
		this.#socket = undefined;
		socket?.destroy();
		for (const request of failed) request.done(0, undefined, 0);
	}

	#onData(chunk: Buffer): void {
		let data = chunk;
		while (data.length > 0) {
			const request = this.#current;
			if (!request) return;
			if (this.#head === undefined) {
				const joined = this.#chunks.length > 0 ? Buffer.concat([...this.#chunks, data]) : data;
				const end = joined.indexOf(crlfcrlf);
				if (end < 0) {
					this.#chunks = [joined];
					return;
				}
				this.#head = joined.subarray(0, end);
				this.#chunks = [];
				const head = this.#head.toString('latin1');
				this.#status = Number(head.slice(9, 12));
				const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];
				this.#remaining = length === undefined ? 0 : Number(length);
				this.#length = this.#remaining;
				data = joined.subarray(end + 4);
			}
			const take = Math.min(this.#remaining, data.length);
			if (take > 0 && request.keepBody) this.#chunks.push(data.subarray(0, take));
			this.#remaining -= take;
			data = data.subarray(take);
			if (this.#remaining > 0) return;
			totals.bytes += this.#length;
			const body = request.keepBody ? Buffer.concat(this.#chunks) : undefined;
			this.#current = undefined;
			request.done(this.#status, body, this.#length);
			if (!this.#current) this.#next();
		}
	}
}

/** What a listener needs from a (delta) media playlist. */
interface PlaylistView {
	/** Segment number and part index of the next part (the preload hint's). */
	nextMsn: number;
	nextPart: number;
	/** Part numbers listed, in order. */
	parts: number[];
	hint: number | undefined;
}

const partUri = /URI="part-(\d+)\.m4s"/;

/** One pass over the playlist's lines (RFC 8216bis §4.4.4.9 parts, §4.4.5.3 preload hints, §4.4.5.2 skips). */
export function viewPlaylist(text: string): PlaylistView {
	let mediaSequence = 0;
	let segments = 0;
	let trailingParts = 0;
	let hint: number | undefined;
	const parts: number[] = [];
	for (const line of text.split('\n')) {
		if (line.startsWith('#EXT-X-PART:')) {
			const seq = partUri.exec(line)?.[1];
			if (seq !== undefined) parts.push(Number(seq));
			trailingParts++;
		} else if (line.startsWith('#EXTINF:')) {
			segments++;
			trailingParts = 0;
		} else if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) {
			mediaSequence = Number(line.slice(22));
		} else if (line.startsWith('#EXT-X-SKIP:')) {
			segments += Number(/SKIPPED-SEGMENTS=(\d+)/.exec(line)?.[1] ?? 0);
		} else if (line.startsWith('#EXT-X-PRELOAD-HINT:') && line.includes('TYPE=PART')) {
			const seq = partUri.exec(line)?.[1];
			if (seq !== undefined) hint = Number(seq);
		}
	}
	return { nextMsn: mediaSequence + segments, nextPart: trailingParts, parts, hint };
}

/** Part number → delivery times (ms), for parts published after the listeners joined. */
const deliveries = new Map<number, number[]>();
let running = true;

class Listener {
	readonly #job: HlsJob;
	/** Playlists, parts, and the held preload-hinted part each on their own connection (a browser uses several). */
	readonly #playlists: HttpConnection;
	readonly #parts: HttpConnection;
	readonly #hints: HttpConnection;
	readonly #usesHint: boolean;
	/** Highest part number fetched or being fetched. */
	#lastSeq = -1;
	#hintInFlight: number | undefined;
	/** Parts from this one on were published while the listener was live (older ones are its catch-up). */
	#liveFromSeq = Number.POSITIVE_INFINITY;

	constructor(job: HlsJob, usesHint: boolean) {
		this.#job = job;
		this.#usesHint = usesHint;
		const { hostname, port } = new URL(job.baseUrl);
		this.#playlists = new HttpConnection(hostname, Number(port || 80));
		this.#parts = new HttpConnection(hostname, Number(port || 80));
		this.#hints = new HttpConnection(hostname, Number(port || 80));
	}

	start(onJoined: () => void): void {
		const base = this.#job.playlistDir;
		this.#playlists.get(`${base}index.m3u8`, true, (status, body) => {
			if (status !== 200 || !body) {
				countError(`join playlist ${status}`);
				if (running) setTimeout(() => this.start(onJoined), 1000);
				return;
			}
			const view = viewPlaylist(body.toString());
			const newest = view.parts.at(-1) ?? -1;
			this.#liveFromSeq = newest + 1;
			// Start at the live edge with the newest part, as hls.js does in low-latency mode.
			this.#lastSeq = newest - 1;
			this.#parts.get(`${base}init-0.mp4`, false, (initStatus) => {
				if (initStatus !== 200) countError(`init ${initStatus}`);
			});
			this.#onPlaylist(view);
			onJoined();
		});
	}

	#onPlaylist(view: PlaylistView): void {
		if (!running) return;
		const fresh = view.parts.filter((seq) => seq > this.#lastSeq && seq !== this.#hintInFlight);
		// Fallen behind (more than a segment's worth of new parts): jump to the live edge as hls.js does, rather than
		// queueing parts that will have left the origin's window by the time their turn comes.
		if (fresh.length > maxPartsBehind) {
			totals.liveSyncs++;
			fresh.splice(0, fresh.length - 3);
		} else if (this.#parts.queued >= 3) {
			// Parts arrive slower than they are published (the origin or this generator is starved): skip ahead.
			totals.liveSyncs++;
			this.#parts.dropQueued();
		}
		for (const seq of fresh) this.#fetchPart(seq);
		this.#lastSeq = Math.max(this.#lastSeq, view.parts.at(-1) ?? -1);
		if (this.#usesHint && view.hint !== undefined && view.hint > this.#lastSeq) {
			this.#hintInFlight = view.hint;
			this.#lastSeq = view.hint;
			this.#fetchPart(view.hint, true);
		}
		this.#reload(view.nextMsn, view.nextPart);
	}

	/** Blocking reload for the next part, as a delta update (§6.2.5.1). */
	#reload(msn: number, part: number): void {
		const path = `${this.#job.playlistDir}index.m3u8?_HLS_msn=${msn}&_HLS_part=${part}&_HLS_skip=YES`;
		this.#playlists.get(path, true, (status, body) => {
			if (!running) return;
			if (status !== 200 || !body) {
				countError(`playlist ${status}`);
				// Start over from a plain reload, as a player does after an error.
				setTimeout(() => this.#restart(), 500);
				return;
			}
			this.#onPlaylist(viewPlaylist(body.toString()));
		});
	}

	#restart(): void {
		if (!running) return;
		this.#playlists.get(`${this.#job.playlistDir}index.m3u8`, true, (status, body) => {
			if (status !== 200 || !body) {
				countError(`playlist ${status}`);
				setTimeout(() => this.#restart(), 1000);
				return;
			}
			this.#onPlaylist(viewPlaylist(body.toString()));
		});
	}

	#fetchPart(seq: number, held = false): void {
		(held ? this.#hints : this.#parts).get(`${this.#job.playlistDir}part-${seq}.m4s`, false, (status, _body, length) => {
			if (seq === this.#hintInFlight) this.#hintInFlight = undefined;
			if (!running) return;
			if (status !== 200 || length === 0) return countError(`part ${seq} ${status} (listed up to ${this.#lastSeq})`);
			if (seq < this.#liveFromSeq) return;
			let times = deliveries.get(seq);
			if (!times) {
				times = [];
				deliveries.set(seq, times);
			}
			times.push(now());
		});
	}

	close(): void {
		this.#playlists.close();
		this.#parts.close();
		this.#hints.close();
	}
}

function runHls(job: HlsJob): { finish: () => void; compute: (refs: Map<number, number>, fromMs: number, toMs: number) => Histogram } {
	const listeners: Listener[] = [];
	let joined = 0;
	if (process.env.TRIBUNE_LOAD_DEBUG) {
		setInterval(() => process.stderr.write(`[load worker ${process.pid}] joined ${joined}/${job.listeners}, requests ${totals.requests}, errors ${totals.errors} ${totals.errorSamples.slice(-3).join(' | ')}\n`), 5000).unref();
	}
	for (let i = 0; i < job.listeners; i++) {
		const listener = new Listener(job, i < Math.round(job.listeners * job.preloadShare));
		listeners.push(listener);
		setTimeout(() => listener.start(() => {
			if (++joined === job.listeners) send({ type: 'ready' });
		}), (i * job.rampMs) / job.listeners);
	}
	return {
		finish: () => {
			running = false;
			for (const listener of listeners) listener.close();
			for (let i = joined; i < job.listeners; i++) countError('listener never joined');
		},
		compute: (refs, fromMs, toMs) => {
			const histogram = new Histogram();
			for (const [seq, times] of deliveries) {
				const published = refs.get(seq);
				if (published === undefined) continue;
				for (const at of times) if (at >= fromMs && at <= toMs) histogram.add(at - published);
			}
			return histogram;
		},
	};
}

// ---------------------------------------------------------------- audience WebSockets

function runWs(job: WsJob): { finish: () => void; probes: number[]; compute: (refs: number[], fromMs: number, toMs: number) => Histogram } {
	const sockets: (WebSocket | undefined)[] = [];
	/** Arrival times of messages carrying a probe reaction, with the receiving client. */
	const arrivals: number[] = [];
	const arrivalClients: number[] = [];
	const probes: number[] = [];
	let nextId = 1;
	let open = 0;
	let connecting = 0;
	let next = 0;
	const timers: NodeJS.Timeout[] = [];
	const request = (socket: WebSocket, name: string, data: unknown): void => {
		socket.send(JSON.stringify({ id: nextId++, name, data }));
		totals.requests++;
	};
	const connect = (index: number): void => {
		connecting++;
		// The token as the player sends it (protocol.ts `authSubprotocols`; this file is compiled alone).
		const socket = new WebSocket(job.wsUrl, ['tribune.v1', `tribune.token.${job.tokens[index] as string}`], { perMessageDeflate: false });
		sockets[index] = socket;
		let opened = false;
		socket.on('open', () => {
			opened = true;
			connecting--;
			if (++open === job.tokens.length) send({ type: 'ready' });
			pump();
		});
		socket.on('message', (raw: Buffer) => {
			const text = raw.toString();
			if (text.includes(`"${probeKind}"`)) {
				arrivals.push(now());
				arrivalClients.push(index);
			}
			if (text.startsWith('{"id"') && text.includes('"ok":false')) countError(`reply ${text.slice(0, 160)}`);
		});
		socket.on('unexpected-response', (_req, res) => countError(`upgrade ${res.statusCode}`));
		socket.on('error', (error) => countError(`ws ${error.message}`));
		socket.on('close', (code) => {
			if (!opened) {
				connecting--;
				pump();
			} else open--;
			if (running) countError(`closed ${code}`);
		});
	};
	// At most 100 handshakes at a time over the ramp.
	const pump = (): void => {
		while (running && connecting < 100 && next < job.tokens.length) connect(next++);
	};
	pump();

	const tickMs = 100;
	let carry = 0;
	timers.push(setInterval(() => {
		if (open === 0) return;
		carry += (job.reactionsPerS * tickMs) / 1000;
		for (; carry >= 1; carry--) {
			const socket = sockets[Math.floor(Math.random() * sockets.length)];
			if (socket?.readyState === WebSocket.OPEN) request(socket, 'react', { reaction: backgroundKinds[Math.floor(Math.random() * backgroundKinds.length)] });
		}
	}, tickMs));
	if (job.probes) {
		let prober = 0;
		timers.push(setInterval(() => {
			if (open === 0) return;
			// A different client each time: the per-client reaction limit (3/s) never refuses a probe.
			let socket = sockets[prober++ % sockets.length];
			for (let tries = 0; socket?.readyState !== WebSocket.OPEN && tries < 100; tries++) socket = sockets[prober++ % sockets.length];
			if (socket?.readyState !== WebSocket.OPEN) return;
			probes.push(now());
			request(socket, 'react', { reaction: probeKind });
		}, 1000));
	}
	if (job.handRaisers > 0) {
		timers.push(setTimeout(() => {
			for (let i = 0; i < Math.min(job.handRaisers, sockets.length); i++) {
				const socket = sockets[(i * 7919) % sockets.length];
				if (socket?.readyState !== WebSocket.OPEN) continue;
				request(socket, 'raiseHand', {});
				timers.push(setTimeout(() => socket.readyState === WebSocket.OPEN && request(socket, 'lowerHand', {}), 5000));
			}
		}, job.rampMs + 2000));
	}
	return {
		probes,
		finish: () => {
			running = false;
			for (const timer of timers) clearTimeout(timer);
			for (const socket of sockets) socket?.terminate();
		},
		compute: (refs, fromMs, toMs) => {
			const histogram = new Histogram();
			const seen = new Set<number>();
			const sorted = [...refs].sort((a, b) => a - b);
			arrivals.forEach((at, i) => {
				if (at < fromMs || at > toMs) return;
				// The probe this arrival answers: the last one sent before it; each client counts its first arrival.
				let lo = 0;
				let hi = sorted.length - 1;
				let found = -1;
				while (lo <= hi) {
					const mid = (lo + hi) >> 1;
					if ((sorted[mid] as number) <= at) {
						found = mid;
						lo = mid + 1;
					} else hi = mid - 1;
				}
				if (found < 0) return;
				const key = (arrivalClients[i] as number) * 100_000 + found;
				if (seen.has(key)) return;
				seen.add(key);
				histogram.add(at - (sorted[found] as number));
			});
			return histogram;
		},
	};
}

// ---------------------------------------------------------------- process

function send(message: unknown): void {
	process.send?.(message);
}

// Timeouts for every request in one sweep a second.
setInterval(() => {
	const cutoff = Date.now() - requestTimeoutMs;
	for (const connection of connections) connection.expire(cutoff);
}, 1000).unref();

let hls: ReturnType<typeof runHls> | undefined;
let ws: ReturnType<typeof runWs> | undefined;

process.on('message', (message: ParentMessage) => {
	if (message.type === 'start') {
		if (message.job.role === 'hls') hls = runHls(message.job);
		else ws = runWs(message.job);
	} else if (message.type === 'mark') {
		send({ type: 'marked', totals: { ...totals, errorSamples: [] } });
	} else if (message.type === 'finish') {
		hls?.finish();
		ws?.finish();
		send({ type: 'ran', totals: { ...totals, errorSamples: [...topErrorKinds(), ...totals.errorSamples.slice(0, 4)] }, probes: ws?.probes ?? [], rssMb: process.memoryUsage().rss / 2 ** 20 });
	} else if (message.type === 'compute') {
		const histogram = hls
			? hls.compute(new Map(message.refs), message.fromMs, message.toMs)
			: (ws as ReturnType<typeof runWs>).compute(message.refs.map(([at]) => at), message.fromMs, message.toMs);
		send({ type: 'result', histogram: histogram.sparse() });
		setTimeout(() => process.exit(0), 100);
	}
});
process.on('disconnect', () => process.exit(0));
