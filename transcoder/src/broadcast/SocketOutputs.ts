import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Rendition } from './ladder.js';

/** What reads the encoder's fMP4 outputs: the LL-HLS packager. */
export interface RenditionSink {
	/** Reads one run of one rendition until the stream ends; runs may overlap (the newer replaces the older). */
	attachRun(run: number, rendition: string, input: Readable): Promise<void>;
}

/**
 * Gives each encoder run's renditions a unix socket to write to (`unix:<workDir>/out-<run>-<rendition>.sock`) and
 * hands each connection to the packager. Sockets rather than extra pipes, because fluent-ffmpeg gives ffmpeg only
 * stdin, stdout and stderr; ffmpeg's `unix:` protocol connects to them like to any output URL. A rendition a run does
 * not encode (shed, see `planEncodeLevels`) is fed the bytes of the one it is served from: the packager reads that
 * run's output once per rendition.
 */
export class SocketOutputs {
	readonly #sink: RenditionSink;
	readonly #workDir: string;
	readonly #logger: Logger;
	#servers: net.Server[] = [];
	readonly #reads = new Set<Promise<void>>();
	/** Bytes received per run, for the encoder's watchdog (output that advances is progress). */
	readonly #bytes = new Map<number, number>();

	constructor(sink: RenditionSink, workDir: string, logger: Logger) {
		this.#sink = sink;
		this.#workDir = workDir;
		this.#logger = logger;
	}

	/**
	 * For `runStageBroadcast`'s `openOutputs`: listens for one run's renditions and returns their URLs. `servedFrom`:
	 * renditions the run does not encode, each attached with the output of the rendition named (which must be one of
	 * `renditions`).
	 */
	async open(run: number, renditions: readonly Rendition[], servedFrom: Readonly<Record<string, string>> = {}): Promise<Record<string, string>> {
		const urls: Record<string, string> = {};
		this.#bytes.set(run, 0);
		for (const rendition of renditions) {
			const socketPath = path.join(this.#workDir, `out-${run}-${rendition.name}.sock`);
			await fs.rm(socketPath, { force: true });
			const server = net.createServer();
			server.maxConnections = 1;
			const carriedBy = Object.keys(servedFrom).filter((name) => servedFrom[name] === rendition.name);
			server.once('connection', (socket) => {
				// One writer per run and rendition: later connections are refused.
				server.close();
				socket.on('data', (chunk: Buffer) => this.#bytes.set(run, (this.#bytes.get(run) ?? 0) + chunk.length));
				if (carriedBy.length === 0) return this.#attach(run, rendition.name, socket, socket);
				// The same bytes to each rendition this one serves; pipe() waits for the slowest reader. It does not pass on
				// the socket's errors: each copy ends with them, as a directly attached socket would.
				const copies = [rendition.name, ...carriedBy].map((name) => {
					const copy = new PassThrough();
					socket.pipe(copy);
					this.#attach(run, name, copy, socket);
					return copy;
				});
				socket.on('error', (error) => {
					for (const copy of copies) copy.destroy(error);
				});
			});
			await new Promise<void>((resolve, reject) => {
				server.once('error', reject);
				server.listen(socketPath, () => {
					server.off('error', reject);
					resolve();
				});
			});
			this.#servers.push(server);
			urls[rendition.name] = `unix:${socketPath}`;
		}
		for (const [name, from] of Object.entries(servedFrom)) {
			if (!urls[from]) throw new Error(`SocketOutputs: rendition ${name} is served from ${from}, which the run does not write`);
		}
		return urls;
	}

	/** Bytes run `run`'s outputs have received so far (0 for a run not opened). */
	bytesOf(run: number): number {
		return this.#bytes.get(run) ?? 0;
	}

	#attach(run: number, rendition: string, input: Readable, socket: net.Socket): void {
		const read = this.#sink.attachRun(run, rendition, input).catch((error: unknown) => {
			this.#logger.error({ err: error, rendition, run }, 'packaging failed; the encoder run will be restarted');
			socket.destroy();
		});
		this.#reads.add(read);
		void read.finally(() => this.#reads.delete(read));
	}

	/** Stops listening and waits until the packager has read everything the encoder wrote. */
	async close(): Promise<void> {
		await this.#closeServers();
		await Promise.all([...this.#reads]);
	}

	async #closeServers(): Promise<void> {
		const servers = this.#servers;
		this.#servers = [];
		await Promise.all(servers.map((server) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()))));
	}
}
