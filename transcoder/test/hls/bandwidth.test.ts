import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import {
	defaultLadder,
	defaultLatency,
	HlsDiskWriter,
	Packager,
	peakSegmentBitRate,
	renditionBandwidth,
	renditionOutputOptions,
	runHlsEncoder,
	type HlsMessage,
	type Rendition,
	type StreamDescriptor,
} from '../../src/index.js';

const logger = pino({ level: 'warn' });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-bandwidth-'));
const latency = defaultLatency;
/** The broadcast's ladder, a 48 kb/s audio rung, and a 64 kb/s one announced as before (nominal + 10 %). */
const ladder: Rendition[] = [...defaultLadder, { name: 'audio48', audioKbps: 48 }, { name: 'audiolow', audioKbps: 64 }];
const formerBandwidth = 70_400;
const seconds = 18;

/**
 * What makes the encoders peak: a detailed picture (x264 at its VBV limit, keyframes at every part of the first
 * segment) and speech that starts after silence (ffmpeg's AAC spends what it saved during the silence), three voices
 * panned apart as the broadcast mixes them: 3 s silence, 6 s speech, 3 s silence, 6 s speech.
 */
function speechAfterSilence(): string {
	const voices = [1, 2, 3].map((n) => {
		const wav = path.join(dir, `voice-${n}.wav`);
		execFileSync('espeak-ng', ['-s', '165', '-w', wav, '--', `I am speaker number ${n} on this stage. Everything you hear is sent live through the stage, then to every listener.`]);
		return wav;
	});
	const out = path.join(dir, 'speech.wav');
	const pans = ['0.9*c0|c1=0.3*c0', '0.6*c0|c1=0.6*c0', '0.3*c0|c1=0.9*c0'];
	const graph = [
		...voices.map((_, i) => `[${i}:a]aresample=48000,adelay=${i * 500},pan=stereo|c0=${pans[i]}[v${i}]`),
		`[v0][v1][v2]amix=inputs=3:normalize=0,alimiter=limit=0.89,atrim=0:6,apad=whole_dur=9,asetpts=N/SR/TB[s]`,
		`[s]asplit[s1][s2]`,
		`[s1][s2]concat=n=2:v=0:a=1,adelay=3000:all=1,atrim=0:${seconds}[o]`,
	].join(';');
	execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...voices.flatMap((v) => ['-i', v]), '-filter_complex', graph, '-map', '[o]', out]);
	return out;
}

describe('BANDWIDTH against segments of a real encode with the broadcast settings', () => {
	afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

	it('every rendition measures below its BANDWIDTH; a stream that measures more is described again; the replay states what it measured', { timeout: 120_000 }, async () => {
		const speech = speechAfterSilence();
		const messages: HlsMessage[] = [];
		const packager = new Packager({
			streamId: 'bw',
			renditions: ladder.map((r) => ({
				name: r.name,
				kind: r.video ? 'video' : 'audio',
				bandwidth: r.name === 'audiolow' ? formerBandwidth : renditionBandwidth(r, latency),
				...(r.video && { frameRate: latency.fps }),
			})),
			partTargetMs: latency.partTargetMs,
			segmentTargetMs: latency.segmentTargetMs,
			subtitles: true,
			sink: { publish: (message) => messages.push(message) },
			disk: new HlsDiskWriter(path.join(dir, 'hls'), 'bw'),
			logger,
		});
		const videos = ladder.filter((r) => r.video);
		const graph = [
			`[0:v]split=${videos.length}${videos.map((r) => `[in_${r.name}]`).join('')}`,
			...videos.map((r) => `[in_${r.name}]scale=${r.video?.width}:${r.video?.height},setsar=1[vo_${r.name}]`),
			`[1:a]asplit=${ladder.length}${ladder.map((r) => `[ao_${r.name}]`).join('')}`,
		].join(';');
		const outputs = ladder.map((r, i) => ({ rendition: r.name, fd: 3 + i }));
		const args = [
			'-hide_banner', '-nostdin', '-loglevel', 'error',
			'-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=${latency.fps}:duration=${seconds}`, '-i', speech,
			'-filter_complex', graph,
			...ladder.flatMap((r, i) => [...renditionOutputOptions(r, latency), `pipe:${3 + i}`]),
		];
		const result = await runHlsEncoder('ffmpeg', { args, outputs, timing: { partMs: latency.partTargetMs, segmentMs: latency.segmentTargetMs } }, packager, logger).done;
		expect(result.code, result.stderr).toBe(0);
		await packager.end();

		// Measured from what origins received: each segment's parts, summed.
		const targetS = latency.segmentTargetMs / 1000;
		const segmentsOf = (rendition: string) => {
			const byMsn = new Map<number, { durationS: number; bytes: number }>();
			for (const { event, bytes } of messages) {
				if (event.type !== 'part' || event.rendition !== rendition) continue;
				const segment = byMsn.get(event.msn) ?? { durationS: 0, bytes: 0 };
				segment.durationS += event.durationS;
				segment.bytes += bytes.length;
				byMsn.set(event.msn, segment);
			}
			return [...byMsn.values()];
		};
		const subtitles = messages.flatMap(({ event, bytes }) => (event.type === 'vtt' ? [{ durationS: event.durationS, bytes: bytes.length }] : []));
		const subtitlesPeak = peakSegmentBitRate(subtitles, targetS);
		const peaks = Object.fromEntries(ladder.map((r) => [r.name, peakSegmentBitRate(segmentsOf(r.name), targetS) + subtitlesPeak]));
		const described = messages.flatMap(({ event }) => (event.type === 'stream' ? [event.descriptor] : []));
		const bandwidthIn = (descriptor: StreamDescriptor | undefined, name: string) => descriptor?.renditions.find((r) => r.name === name)?.bandwidth ?? 0;

		// The content is demanding: the former BANDWIDTH (nominal + 10 %) is below what the 64 kb/s audio measures.
		expect(peaks['audiolow']).toBeGreaterThan(formerBandwidth);
		for (const r of ladder.filter((r) => r.name !== 'audiolow')) {
			// Never raised: every descriptor says the expected value, and it covers the measured peak.
			expect(new Set(described.map((d) => bandwidthIn(d, r.name))), r.name).toEqual(new Set([renditionBandwidth(r, latency)]));
			expect(renditionBandwidth(r, latency), r.name).toBeGreaterThanOrEqual(peaks[r.name]!);
		}
		expect(bandwidthIn(described.at(-1), 'audiolow')).toBeGreaterThanOrEqual(peaks['audiolow']!);

		// The replay: BANDWIDTH is the measured peak, AVERAGE-BANDWIDTH the measured average.
		const master = fs.readFileSync(path.join(dir, 'hls/bw/vod.m3u8'), 'utf8');
		for (const r of ladder) {
			const line = master.split('\n').find((l, i, lines) => lines[i + 1] === `${r.name}/vod.m3u8`) ?? '';
			const bandwidth = Number(/BANDWIDTH=(\d+)/.exec(line)?.[1]);
			const average = Number(/AVERAGE-BANDWIDTH=(\d+)/.exec(line)?.[1]);
			expect(Math.abs(bandwidth - peaks[r.name]!), `${r.name}: ${line}`).toBeLessThanOrEqual(1);
			expect(average, r.name).toBeGreaterThan(0);
			expect(average, r.name).toBeLessThan(bandwidth);
		}
		const measured = Object.fromEntries(ladder.map((r) => [r.name, { peakKbps: Math.round(peaks[r.name]! / 100) / 10, bandwidthKbps: renditionBandwidth(r, latency) / 1000 }]));
		console.log(`bandwidth: ${JSON.stringify(measured)}`);
	});
});
