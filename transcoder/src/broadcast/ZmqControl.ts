import net from 'node:net';

/** ZMTP frame flags (RFC 23 / ZMTP 3.0 §3.2). */
const more = 0x01;
const long = 0x02;
const command = 0x04;

/**
 * ffmpeg answered a command with an error (`<code> <text>`, code non-zero): the target filter refused that command
 * and keeps its previous settings. The connection is fine and the next command can follow.
 */
export class ZmqCommandRefused extends Error {
	override readonly name = 'ZmqCommandRefused';
	/** ffmpeg's error number (AVERROR negated: 22 is EINVAL, 38 ENOSYS). */
	readonly code: number;
	/** ffmpeg's reply text after the code. */
	readonly reply: string;
	readonly command: string;

	constructor(command: string, reply: string) {
		const code = Number(/^(-?\d+)/.exec(reply)?.[1] ?? NaN);
		super(`ffmpeg refused "${command.slice(0, 200)}": ${reply}`);
		this.code = code;
		this.reply = reply.replace(/^-?\d+\s*/, '');
		this.command = command;
	}
}

/**
 * Sends live commands to a running ffmpeg's `zmq`/`azmq` filter (a ZeroMQ REP socket on 127.0.0.1): the broadcast
 * moves the active-speaker frame without restarting the encode. A minimal ZMTP 3.0 REQ client with the NULL
 * mechanism — one connection, one request at a time, the reply read before the next — instead of a native ZeroMQ
 * binding for four short messages a stage change. Commands are `<target> <command> <arg>`, e.g.
 * `drawbox@active x 640`; ffmpeg answers `0 Success` or an error code and text.
 */
export class ZmqControl {
	readonly #socket: net.Socket;
	#buffer = Buffer.alloc(0);
	#waiting: (() => void) | undefined;
	#queue: Promise<unknown> = Promise.resolve();
	#error: Error | undefined;
	/** Settles when the connection is gone (ffmpeg exited or rebuilt its filter graph, or `close()`). */
	readonly closed: Promise<void>;

	private constructor(socket: net.Socket) {
		this.#socket = socket;
		this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
		socket.on('data', (chunk: Buffer) => {
			this.#buffer = Buffer.concat([this.#buffer, chunk]);
			this.#waiting?.();
		});
		const fail = (error: Error): void => {
			this.#error ??= error;
			this.#waiting?.();
		};
		socket.on('error', fail);
		socket.on('close', () => fail(new Error('zmq control connection closed')));
	}

	/** Connects and handshakes, retrying while ffmpeg has not bound its socket yet (up to `timeoutMs`). */
	static async connect(port: number, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ZmqControl> {
		const timeoutMs = options.timeoutMs ?? 10_000;
		const deadline = Date.now() + timeoutMs;
		for (let attempt = 0; ; attempt++) {
			let socket: net.Socket | undefined;
			try {
				socket = await new Promise<net.Socket>((resolve, reject) => {
					const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
					s.once('error', reject);
				});
				socket.setNoDelay(true);
				const control = new ZmqControl(socket);
				await control.#handshake(Math.max(1000, deadline - Date.now()));
				return control;
			} catch (error) {
				// A connection whose handshake failed is not kept open while the next attempt runs.
				socket?.destroy();
				// Bounded by time, and by count too (an attempt takes at least the 50 ms pause).
				if (options.signal?.aborted || Date.now() > deadline || attempt > timeoutMs / 50) throw error;
				await new Promise((resolve) => setTimeout(resolve, 50));
			}
		}
	}

	/**
	 * Sends one command and resolves with ffmpeg's reply. Rejects with `ZmqCommandRefused` when ffmpeg answers with
	 * an error (the connection stays usable), with any other error when the connection failed or no reply came within
	 * `timeoutMs` — the connection is then closed, as a late reply would otherwise be read as the next command's.
	 */
	send(text: string, timeoutMs = 2000): Promise<string> {
		const result = this.#queue.then(async () => {
			let frames: Buffer[];
			try {
				// REQ envelope: an empty delimiter frame, then the body.
				this.#socket.write(Buffer.concat([Buffer.from([more, 0]), frame(0, Buffer.from(text, 'utf8'))]));
				frames = [];
				for (;;) {
					const { flags, body } = await this.#readFrame(timeoutMs);
					if (flags & command) continue;
					frames.push(body);
					if (!(flags & more)) break;
				}
			} catch (error) {
				this.close();
				throw error;
			}
			const reply = (frames.at(-1) ?? Buffer.alloc(0)).toString('utf8');
			if (!reply.startsWith('0 ')) throw new ZmqCommandRefused(text, reply);
			return reply;
		});
		this.#queue = result.catch(() => undefined);
		return result;
	}

	close(): void {
		this.#socket.destroy();
	}

	async #handshake(timeoutMs: number): Promise<void> {
		const greeting = Buffer.alloc(64);
		greeting[0] = 0xff;
		greeting[9] = 0x7f;
		greeting[10] = 3;
		greeting[11] = 0;
		greeting.write('NULL', 12, 'ascii');
		this.#socket.write(greeting);
		const theirs = await this.#read(64, timeoutMs);
		if (theirs[0] !== 0xff || theirs[9] !== 0x7f || (theirs[10] ?? 0) < 3) throw new Error('not a ZMTP 3 peer');
		this.#socket.write(frame(command, readyCommand('REQ')));
		for (;;) {
			const { flags, body } = await this.#readFrame(timeoutMs);
			if (!(flags & command)) throw new Error('ZMTP peer sent a message before READY');
			if (body.subarray(1, 1 + (body[0] ?? 0)).toString('ascii') === 'READY') return;
			if (body.subarray(1, 6).toString('ascii') === 'ERROR') throw new Error('ZMTP peer refused the handshake');
		}
	}

	async #readFrame(timeoutMs: number): Promise<{ flags: number; body: Buffer }> {
		const [flags] = await this.#read(1, timeoutMs);
		const size = flags! & long ? Number((await this.#read(8, timeoutMs)).readBigUInt64BE(0)) : (await this.#read(1, timeoutMs))[0]!;
		if (size > 1 << 20) throw new Error('ZMTP frame too large');
		return { flags: flags!, body: await this.#read(size, timeoutMs) };
	}

	async #read(bytes: number, timeoutMs: number): Promise<Buffer> {
		const deadline = Date.now() + timeoutMs;
		while (this.#buffer.length < bytes) {
			if (this.#error) throw this.#error;
			const left = deadline - Date.now();
			if (left <= 0) throw new Error('zmq control: no reply from ffmpeg');
			await new Promise<void>((resolve) => {
				const timer = setTimeout(resolve, left);
				this.#waiting = () => {
					clearTimeout(timer);
					resolve();
				};
			});
			this.#waiting = undefined;
		}
		const out = this.#buffer.subarray(0, bytes);
		this.#buffer = this.#buffer.subarray(bytes);
		return out;
	}
}

function frame(flags: number, body: Buffer): Buffer {
	if (body.length <= 255) return Buffer.concat([Buffer.from([flags, body.length]), body]);
	const head = Buffer.alloc(9);
	head[0] = flags | long;
	head.writeBigUInt64BE(BigInt(body.length), 1);
	return Buffer.concat([head, body]);
}

/** READY with one property, Socket-Type (ZMTP 3.0 §3.4: name-size, name, 4-byte value-size, value). */
function readyCommand(socketType: string): Buffer {
	const name = Buffer.from('Socket-Type', 'ascii');
	const value = Buffer.from(socketType, 'ascii');
	const valueSize = Buffer.alloc(4);
	valueSize.writeUInt32BE(value.length, 0);
	return Buffer.concat([Buffer.from([5]), Buffer.from('READY', 'ascii'), Buffer.from([name.length]), name, valueSize, value]);
}
