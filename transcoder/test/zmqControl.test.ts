import { spawn } from 'node:child_process';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ZmqCommandRefused, ZmqControl } from '../src/broadcast/ZmqControl.js';

const size = 32;
const frameBytes = size * size * 3;

function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = net.createServer().listen(0, '127.0.0.1', () => {
			const { port } = server.address() as net.AddressInfo;
			server.close(() => resolve(port));
		});
		server.once('error', reject);
	});
}

describe('ZmqControl with a real ffmpeg zmq filter', () => {
	const cleanups: (() => void)[] = [];
	afterEach(() => cleanups.splice(0).forEach((cleanup) => cleanup()));

	it('moves a named drawbox in the running picture, and reports a command ffmpeg refuses', { timeout: 30_000 }, async () => {
		const port = await freePort();
		// A black picture with a red box parked off-canvas; raw RGB frames on stdout, 8 s at most.
		const graph = `drawbox@active=x=-100:y=-100:w=2:h=2:color=red:t=fill,zmq=bind_address=tcp\\\\://127.0.0.1\\\\:${port}`;
		const ffmpeg = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `color=c=black:s=${size}x${size}:r=25`, '-vf', graph, '-t', '8', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { stdio: ['ignore', 'pipe', 'ignore'] });
		cleanups.push(() => ffmpeg.kill('SIGKILL'));
		let pending = Buffer.alloc(0);
		const frames: Buffer[] = [];
		ffmpeg.stdout.on('data', (chunk: Buffer) => {
			pending = Buffer.concat([pending, chunk]);
			while (pending.length >= frameBytes) {
				frames.push(pending.subarray(0, frameBytes));
				pending = pending.subarray(frameBytes);
			}
		});
		const redAt = (frame: Buffer, x: number, y: number): boolean => (frame[(y * size + x) * 3] ?? 0) > 200;

		const control = await ZmqControl.connect(port);
		cleanups.push(() => control.close());
		expect(frames.every((f) => !redAt(f, 16, 16))).toBe(true);
		for (const command of ['x 8', 'y 8', 'w 16', 'h 16']) expect(await control.send(`drawbox@active ${command}`)).toBe('0 Success');
		const movedAt = frames.length;
		await expect.poll(() => frames.slice(movedAt).some((f) => redAt(f, 16, 16) && !redAt(f, 2, 2)), { timeout: 5000 }).toBe(true);

		const refusal = await control.send('drawbox@active no_such_option 1').catch((e: unknown) => e);
		expect(refusal).toBeInstanceOf(ZmqCommandRefused);
		expect(refusal).toMatchObject({ message: expect.stringMatching(/ffmpeg refused/), code: expect.any(Number) });
		expect((refusal as ZmqCommandRefused).code).toBeGreaterThan(0);
		// The connection still works after a refused command.
		expect(await control.send('drawbox@active x -100')).toBe('0 Success');
		const parkedAt = frames.length;
		await expect.poll(() => frames.slice(parkedAt).some((f) => !redAt(f, 16, 16)), { timeout: 5000 }).toBe(true);

		// When ffmpeg goes, the connection says so (the live composite then reconnects and resends its layout).
		let closed = false;
		void control.closed.then(() => (closed = true));
		ffmpeg.kill('SIGKILL');
		await expect.poll(() => closed, { timeout: 5000 }).toBe(true);
	});

	it('gives up connecting when nothing listens, within its time limit', async () => {
		const port = await freePort();
		const started = Date.now();
		await expect(ZmqControl.connect(port, { timeoutMs: 500 })).rejects.toThrow();
		expect(Date.now() - started).toBeLessThan(5000);
	});
});
