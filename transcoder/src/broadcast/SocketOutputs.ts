import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { Readable } from 'node:stream';
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
 * stdin, stdout and stderr; ffmpeg's `unix:` protocol connects to them like to any output URL.
 */
export class SocketOutputs {
	readonly #sink: RenditionSink;
	readonly #workDir: string;
	readonly #logger: Logger;
	#servers: net.Server[] = [];
	readonly #reads = new Set<Promise<void>>();

	constructor(sink: RenditionSink, workDir: string, logger: Logger) {
		this.#sink = sink;
		this.#workDir = workDir;
		this.#logger = logger;
	}

	/** For `runStageBroadcast`'s `openOutputs`: listens for one run's renditions and returns their URLs. */
	async open(run: number, renditions: readonly Rendition[]): Promise<Record<string, string>> {
		const urls: Record<string, string> = {};
		for (const rendition of renditions) {
			const socketPath = path.join(this.#workDir, `out-${run}-${rendition.name}.sock`);
			await fs.rm(socketPath, { force: true });
			const server = net.createServer();
			server.maxConnections = 1;
			server.once('connection', (socket) => {
				// One writer per run and rendition: later connections are refused.
				server.close();
				const read = this.#sink.attachRun(run, rendition.name, socket).catch((error: unknown) => {
					this.#logger.error({ err: error, rendition: rendition.name, run }, 'packaging failed; the encoder run will be restarted');
					socket.destroy();
				});
				this.#reads.add(read);
				void read.finally(() => this.#reads.delete(read));
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
		return urls;
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
