import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { buildFfmpegPlan, computeLayout, runFfmpeg, SocketOutputs, type Rendition } from '../src/index.js';
import type { HlsMessage } from '../src/hls/HlsEvent.js';
import { Packager } from '../src/hls/Packager.js';

const logger = pino({ level: 'silent' });

describe('SocketOutputs: the broadcast encoder feeds the LL-HLS packager over unix sockets', () => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-socket-outputs-'));
	afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

	it('packages every rendition of two encoder runs, the second after a discontinuity', async () => {
		const messages: HlsMessage[] = [];
		const ladder: Rendition[] = [{ name: '360p', video: { width: 640, height: 360, kbps: 500 }, audioKbps: 64 }, { name: 'audio', audioKbps: 64 }];
		const latency = { fps: 25, partTargetMs: 200, segmentTargetMs: 1000 };
		const packager = new Packager({
			streamId: 'space-sockets',
			renditions: [
				{ name: '360p', kind: 'video', bandwidth: 600_000 },
				{ name: 'audio', kind: 'audio', bandwidth: 70_000 },
			],
			partTargetMs: latency.partTargetMs,
			segmentTargetMs: latency.segmentTargetMs,
			subtitles: false,
			sink: { publish: (message) => messages.push(message) },
			logger,
		});
		const outputs = new SocketOutputs(packager, dir, logger);
		// An empty stage: the plan's silent real-time input and canvas, no RTP needed.
		const layout = computeLayout({ speakers: [], pinned: [] }, { width: 640, height: 360 });
		for (const run of [0, 1]) {
			const urls = await outputs.open(run, ladder);
			expect(urls).toEqual({ '360p': `unix:${dir}/out-${run}-360p.sock`, audio: `unix:${dir}/out-${run}-audio.sock` });
			const plan = buildFfmpegPlan(layout, ladder, latency, { composite: true, sdpPath: path.join(dir, 'unused.sdp'), streams: new Map(), workDir: dir, fontFile: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', outputs: urls });
			const stop = new AbortController();
			const running = runFfmpeg({ plan, signal: stop.signal, logger });
			await new Promise((resolve) => setTimeout(resolve, 2500));
			stop.abort();
			await running;
		}
		await outputs.close();
		await packager.end();

		const parts = (rendition: string) => messages.filter((m) => m.event.type === 'part' && m.event.rendition === rendition).map((m) => m.event as Extract<HlsMessage['event'], { type: 'part' }>);
		for (const rendition of ['360p', 'audio']) {
			expect(messages.filter((m) => m.event.type === 'init' && m.event.rendition === rendition)).toHaveLength(2);
			const all = parts(rendition);
			expect(all.length).toBeGreaterThan(10);
			// The second run starts a segment after a discontinuity, with the second init section.
			expect(all.some((p) => p.segment?.discontinuity && p.segment.initIndex === 1)).toBe(true);
		}
		expect(messages.at(-1)!.event.type).toBe('end');
	});
});
