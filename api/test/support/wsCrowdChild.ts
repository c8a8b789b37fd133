/**
 * A crowd of audience WebSockets in a child process of its own (its own file descriptors and CPU), driven by the
 * test over IPC. Each client is a bare TCP socket speaking just enough RFC 6455 (an upgrade, masked text frames
 * out, unmasked frames in, pong) to cost far less than a full client, so thousands fit beside the server on two
 * cores. Node built-ins only: `crowdHarness.ts` compiles this file on its own and forks it.
 *
 * Messages in:  { type: 'connect', urls, tokens, concurrency } → { type: 'connected', open, failed, closeCodes }
 *                 (client i goes to urls[i % urls.length])
 *               { type: 'burst', reactors, reaction, timeoutMs } → { type: 'burst', delaysMs, histogram, missing, messagesPerClient }
 *                 (`histogram`: [ms, reactions] pairs, each reaction's delivery to each client)
 *               { type: 'stats' } → { type: 'stats', open, closeCodes, cpuMs }
 *               { type: 'send', index, text } (a raw request from client `index`)
 *               { type: 'close' }
 */
import net from 'node:net';

interface Client {
	socket: net.Socket;
	buffer: Buffer;
	upgraded: boolean;
	open: boolean;
	closeCode: number | undefined;
	/** Reactions of the current burst's kind counted so far, and messages received since the burst began. */
	seen: number;
	messages: number;
	doneAt: number;
}

const clients: Client[] = [];
let burst: { reaction: string; expected: number; startedAt: number; remaining: number; histogram: Map<number, number>; finish: () => void } | undefined;
let nextRequestId = 1;

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

function onText(client: Client, text: string): void {
	if (!burst || !text.startsWith('{"event":"tick"')) return;
	client.messages++;
	const data = (JSON.parse(text) as { data: { reactions?: { reaction: string; count: number }[] } }).data;
	for (const r of data.reactions ?? []) {
		if (r.reaction !== burst.reaction) continue;
		const before = client.seen;
		client.seen += r.count;
		const ms = Date.now() - burst.startedAt;
		burst.histogram.set(ms, (burst.histogram.get(ms) ?? 0) + r.count);
		if (before < burst.expected && client.seen >= burst.expected) {
			client.doneAt = Date.now();
			if (--burst.remaining === 0) burst.finish();
		}
	}
}

function onData(client: Client, chunk: Buffer): void {
	client.buffer = client.buffer.length === 0 ? chunk : Buffer.concat([client.buffer, chunk]);
	if (!client.upgraded) {
		const end = client.buffer.indexOf('\r\n\r\n');
		if (end < 0) return;
		const head = client.buffer.subarray(0, end).toString('latin1');
		client.buffer = client.buffer.subarray(end + 4);
		if (!head.startsWith('HTTP/1.1 101')) {
			client.closeCode = Number(head.slice(9, 12)) || -1;
			client.socket.destroy();
			return;
		}
		client.upgraded = true;
		client.open = true;
		client.socket.emit('upgraded');
	}
	for (;;) {
		const b = client.buffer;
		if (b.length < 2) return;
		const opcode = b[0]! & 0x0f;
		let length = b[1]! & 0x7f;
		let offset = 2;
		if (length === 126) {
			if (b.length < 4) return;
			length = b.readUInt16BE(2);
			offset = 4;
		} else if (length === 127) {
			if (b.length < 10) return;
			length = Number(b.readBigUInt64BE(2));
			offset = 10;
		}
		if (b.length < offset + length) return;
		const payload = b.subarray(offset, offset + length);
		client.buffer = b.subarray(offset + length);
		if (opcode === 1) onText(client, payload.toString('utf8'));
		else if (opcode === 9) client.socket.write(controlFrame(0xa, payload));
		else if (opcode === 8) {
			client.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
			client.open = false;
			client.socket.end();
		}
	}
}

function connectOne(url: URL, token: string): Promise<Client> {
	return new Promise((resolve) => {
		const socket = net.connect(Number(url.port), url.hostname);
		socket.setNoDelay(true);
		const client: Client = { socket, buffer: Buffer.alloc(0), upgraded: false, open: false, closeCode: undefined, seen: 0, messages: 0, doneAt: 0 };
		const settle = () => resolve(client);
		socket.once('upgraded', settle);
		socket.once('close', () => {
			client.open = false;
			client.closeCode ??= 1006;
			settle();
		});
		socket.on('error', () => {});
		socket.on('data', (chunk: Buffer) => onData(client, chunk));
		socket.once('connect', () => {
			socket.write(
				`GET ${url.pathname}?token=${encodeURIComponent(token)} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
					'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
			);
		});
	});
}

async function connectAll(urls: URL[], tokens: string[], concurrency: number): Promise<void> {
	let next = 0;
	const worker = async (): Promise<void> => {
		while (next < tokens.length) {
			const i = next++;
			clients[i] = await connectOne(urls[i % urls.length]!, tokens[i]!);
		}
	};
	await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
}

function closeCodes(): Record<string, number> {
	const codes: Record<string, number> = {};
	for (const c of clients) if (c.closeCode !== undefined) codes[c.closeCode] = (codes[c.closeCode] ?? 0) + 1;
	return codes;
}

function runBurst(reactors: number, reaction: string, timeoutMs: number): void {
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
	burst = { reaction, expected: reactors, startedAt: Date.now(), remaining: open.length, histogram: new Map(), finish: report };
	for (const c of open.slice(0, reactors)) c.socket.write(textFrame(JSON.stringify({ id: nextRequestId++, name: 'react', data: { reaction } })));
}

process.on('message', (message: { type: string; [key: string]: unknown }) => {
	switch (message.type) {
		case 'connect':
			void connectAll((message.urls as string[]).map((u) => new URL(u)), message.tokens as string[], message.concurrency as number).then(() =>
				send({ type: 'connected', open: clients.filter((c) => c.open).length, failed: clients.filter((c) => !c.open).length, closeCodes: closeCodes() }),
			);
			break;
		case 'burst':
			runBurst(message.reactors as number, message.reaction as string, message.timeoutMs as number);
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
