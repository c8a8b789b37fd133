/**
 * A crowd of audience WebSockets in a child process of its own (its own file descriptors and CPU), driven by the
 * test over IPC. Each client is a bare TCP socket speaking just enough RFC 6455 (an upgrade, masked text frames
 * out, unmasked frames in, pong) to cost far less than a full client, so thousands fit beside the server on two
 * cores. Node built-ins only: `crowdHarness.ts` compiles this file on its own and forks it.
 *
 * Messages in:  { type: 'connect', urls, tokens, offset, concurrency } → { type: 'connected', open, failed, closeCodes }
 *                 (client i here is the crowd's client offset + i and goes to urls[(offset + i) % urls.length])
 *               { type: 'burst', expected, reactors, reaction, timeoutMs, startedAt }
 *                 → { type: 'burst', delaysMs, histogram, missing, messagesPerClient }
 *                 (`reactors` of this process react; `histogram`: [ms, reactions] pairs, each reaction's delivery
 *                 to each client, from `startedAt` (epoch ms))
 *               { type: 'stats' } → { type: 'stats', open, closeCodes, cpuMs }
 *               { type: 'send', index, text } (a raw request from client `index`)
 *               { type: 'close' }
 */
import net from 'node:net';

interface Client {
	socket: net.Socket;
	/** Bytes of a frame (or of the upgrade reply) not complete yet; a copy, never the shared read buffer. */
	buffer: Buffer;
	upgraded: boolean;
	open: boolean;
	closeCode: number | undefined;
	/** Reactions of the current burst's kind counted so far, and messages received since the burst began. */
	seen: number;
	messages: number;
	doneAt: number;
}

interface Burst {
	/** `{"reaction":"<kind>","count":` as bytes: found by a byte search, so a tick is never JSON-parsed here. */
	needle: Buffer;
	expected: number;
	startedAt: number;
	remaining: number;
	histogram: Map<number, number>;
	finish: () => void;
}

const clients: Client[] = [];
let burst: Burst | undefined;
let nextRequestId = 1;
const empty = Buffer.alloc(0);
const tickPrefix = Buffer.from('{"event":"tick"');
/**
 * Every socket reads into this one buffer (`onread`): no allocation and no stream machinery per read, which is
 * most of what 10,000 sockets cost a crowd. Whatever must outlive a read is copied out of it.
 */
const readBuffer = Buffer.allocUnsafe(64 * 1024);

function send(message: unknown): void {
	process.send!(message);
}

/** A masked client text frame; a zero mask key is valid and leaves the payload as it is. */
function textFrame(text: string): Buffer {
	const payload = Buffer.from(text);
	const length = payload.length;
	const header = length < 126 ? Buffer.from([0x81, 0x80 | length, 0, 0, 0, 0]) : Buffer.from([0x81, 0x80 | 126, length >> 8, length & 0xff, 0, 0, 0, 0]);
	return Buffer.concat([header, payload]);
}

function controlFrame(opcode: number, payload: Buffer): Buffer {
	return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
}

/** The count after `needle` in b[from, to), or 0 if the tick has no reactions of the burst's kind. */
function countAfter(b: Buffer, needle: Buffer, from: number, to: number): number {
	const at = b.indexOf(needle, from);
	if (at < 0 || at + needle.length >= to) return 0;
	let count = 0;
	for (let i = at + needle.length; i < to; i++) {
		const digit = b[i]! - 48;
		if (digit < 0 || digit > 9) break;
		count = count * 10 + digit;
	}
	return count;
}

/** A text message in b[from, to): only ticks count, and of them only the burst's kind of reaction. */
function onText(client: Client, b: Buffer, from: number, to: number): void {
	if (!burst || to - from < tickPrefix.length || b.compare(tickPrefix, 0, tickPrefix.length, from, from + tickPrefix.length) !== 0) return;
	client.messages++;
	const count = countAfter(b, burst.needle, from, to);
	if (count === 0) return;
	const before = client.seen;
	client.seen += count;
	const ms = Date.now() - burst.startedAt;
	burst.histogram.set(ms, (burst.histogram.get(ms) ?? 0) + count);
	if (before < burst.expected && client.seen >= burst.expected) {
		client.doneAt = Date.now();
		if (--burst.remaining === 0) burst.finish();
	}
}

function onData(client: Client, chunk: Buffer): void {
	let b = client.buffer.length === 0 ? chunk : Buffer.concat([client.buffer, chunk]);
	client.buffer = empty;
	if (!client.upgraded) {
		const end = b.indexOf('\r\n\r\n');
		if (end < 0) {
			client.buffer = Buffer.from(b);
			return;
		}
		const head = b.subarray(0, end).toString('latin1');
		b = b.subarray(end + 4);
		if (!head.startsWith('HTTP/1.1 101')) {
			client.closeCode = Number(head.slice(9, 12)) || -1;
			client.socket.destroy();
			return;
		}
		client.upgraded = true;
		client.open = true;
		client.socket.emit('upgraded');
	}
	let at = 0;
	for (;;) {
		if (b.length - at < 2) break;
		const opcode = b[at]! & 0x0f;
		let length = b[at + 1]! & 0x7f;
		let offset = at + 2;
		if (length === 126) {
			if (b.length - at < 4) break;
			length = b.readUInt16BE(at + 2);
			offset = at + 4;
		} else if (length === 127) {
			if (b.length - at < 10) break;
			length = Number(b.readBigUInt64BE(at + 2));
			offset = at + 10;
		}
		if (b.length < offset + length) break;
		at = offset + length;
		if (opcode === 1) onText(client, b, offset, at);
		else if (opcode === 9) client.socket.write(controlFrame(0xa, b.subarray(offset, at)));
		else if (opcode === 8) {
			client.closeCode = length >= 2 ? b.readUInt16BE(offset) : 1005;
			client.open = false;
			client.socket.end();
		}
	}
	// The rest of a frame waits for the next read, copied: the read buffer is shared by every socket.
	if (at < b.length) client.buffer = Buffer.from(b.subarray(at));
}

function connectOne(url: URL, token: string): Promise<Client> {
	return new Promise((resolve) => {
		// `client` is assigned before any read can happen (reads start after connecting).
		// eslint-disable-next-line prefer-const
		let client: Client;
		const socket = net.connect({
			port: Number(url.port),
			host: url.hostname,
			noDelay: true,
			onread: {
				buffer: readBuffer,
				callback: (n: number, buf: Uint8Array) => {
					onData(client, (buf as Buffer).subarray(0, n));
					return true;
				},
			},
		});
		client = { socket, buffer: empty, upgraded: false, open: false, closeCode: undefined, seen: 0, messages: 0, doneAt: 0 };
		const settle = () => resolve(client);
		socket.once('upgraded', settle);
		socket.once('close', () => {
			client.open = false;
			client.closeCode ??= 1006;
			settle();
		});
		socket.on('error', () => {});
		socket.once('connect', () => {
			socket.write(
				`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
					// The token as the player sends it (protocol.ts `authSubprotocols`; this file is compiled alone).
					`Sec-WebSocket-Protocol: tribune.v1, tribune.token.${token}\r\n` +
					'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
			);
		});
	});
}

/** Client i here is client `offset + i` of the whole crowd, and goes to that one's URL. */
async function connectAll(urls: URL[], tokens: string[], offset: number, concurrency: number): Promise<void> {
	let next = 0;
	const worker = async (): Promise<void> => {
		while (next < tokens.length) {
			const i = next++;
			clients[i] = await connectOne(urls[(offset + i) % urls.length]!, tokens[i]!);
		}
	};
	await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
}

function closeCodes(): Record<string, number> {
	const codes: Record<string, number> = {};
	for (const c of clients) if (c.closeCode !== undefined) codes[c.closeCode] = (codes[c.closeCode] ?? 0) + 1;
	return codes;
}

/**
 * This process's first `reactorsHere` open clients react; every client here waits for `expected` reactions in all
 * (the whole crowd's). Times count from `startedAt`, the test's clock when it asked for the burst (before it reached
 * any crowd process), so they include the hand-over to the crowd processes.
 */
function runBurst(expected: number, reactorsHere: number, reaction: string, timeoutMs: number, startedAt: number): void {
	const open = clients.filter((c) => c.open);
	for (const c of open) {
		c.seen = 0;
		c.messages = 0;
		c.doneAt = 0;
	}
	const report = () => {
		clearTimeout(timer);
		const startedAt = burst!.startedAt;
		const histogram = [...burst!.histogram];
		burst = undefined;
		const done = open.filter((c) => c.doneAt > 0);
		send({ type: 'burst', delaysMs: done.map((c) => c.doneAt - startedAt), histogram, missing: open.length - done.length, messagesPerClient: open.reduce((n, c) => n + c.messages, 0) / Math.max(1, open.length) });
	};
	const timer = setTimeout(report, timeoutMs);
	const needle = Buffer.from(`{"reaction":${JSON.stringify(reaction)},"count":`);
	burst = { needle, expected, startedAt, remaining: open.length, histogram: new Map(), finish: report };
	if (open.length === 0) return report();
	for (const c of open.slice(0, reactorsHere)) c.socket.write(textFrame(JSON.stringify({ id: nextRequestId++, name: 'react', data: { reaction } })));
}

process.on('message', (message: { type: string; [key: string]: unknown }) => {
	switch (message.type) {
		case 'connect':
			void connectAll((message.urls as string[]).map((u) => new URL(u)), message.tokens as string[], message.offset as number, message.concurrency as number).then(() =>
				send({ type: 'connected', open: clients.filter((c) => c.open).length, failed: clients.filter((c) => !c.open).length, closeCodes: closeCodes() }),
			);
			break;
		case 'burst':
			runBurst(message.expected as number, message.reactors as number, message.reaction as string, message.timeoutMs as number, message.startedAt as number);
			break;
		case 'send': {
			const c = clients[message.index as number];
			if (c?.open) c.socket.write(textFrame(message.text as string));
			break;
		}
		case 'stats': {
			const cpu = process.cpuUsage();
			send({ type: 'stats', open: clients.filter((c) => c.open).length, closeCodes: closeCodes(), cpuMs: (cpu.user + cpu.system) / 1000 });
			break;
		}
		case 'close':
			for (const c of clients) c.socket.destroy();
			process.exit(0);
	}
});
send({ type: 'ready' });
