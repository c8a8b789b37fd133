import pino from 'pino';
import { buildHlsEncodePlan, HlsDiskWriter, Packager, runHlsEncoder, type Rendition } from '../../src/index.js';

const logger = pino({ level: 'warn' });

/** Two small video renditions (the export must pick the taller one) and the audio one. */
export const videoLadder: Rendition[] = [
	{ name: '180p', video: { width: 320, height: 180, kbps: 200 }, audioKbps: 64 },
	{ name: '360p', video: { width: 640, height: 360, kbps: 600 }, audioKbps: 96 },
	{ name: 'audio', audioKbps: 64 },
];
export const audioLadder: Rendition[] = [{ name: 'audio', audioKbps: 64 }];

/**
 * Records a replay as a recorded broadcast leaves it: the real packager writes `<hlsRoot>/<streamId>/` from one
 * ffmpeg run per entry of `runSeconds` (test pattern and tone, as fast as ffmpeg goes), so every run after the
 * first follows a discontinuity with its own init section; `stream.json` comes last.
 */
export async function recordReplay(options: { hlsRoot: string; streamId: string; runSeconds: readonly number[]; ladder: readonly Rendition[] }): Promise<void> {
	const { ladder } = options;
	const video = ladder.some((r) => r.video);
	const packager = new Packager({
		streamId: options.streamId,
		renditions: ladder.map((r) => ({ name: r.name, kind: r.video ? 'video' : 'audio', bandwidth: ((r.video?.kbps ?? 0) + r.audioKbps) * 1100, ...(r.video && { frameRate: 30 }) })),
		partTargetMs: 200,
		segmentTargetMs: 1000,
		subtitles: false,
		sink: { publish: () => {} },
		disk: new HlsDiskWriter(options.hlsRoot, options.streamId),
		logger,
	});
	for (const [i, seconds] of options.runSeconds.entries()) {
		// A different tone per run: each run is told apart by ear in the export.
		const tone = ['-f', 'lavfi', '-i', `sine=frequency=${440 + 110 * i}:sample_rate=48000:duration=${seconds}`];
		const plan = buildHlsEncodePlan({
			inputArgs: video ? ['-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=30:duration=${seconds}`, ...tone] : tone,
			videoInput: '0:v',
			audioInput: video ? '1:a' : '0:a',
			ladder,
			partTargetMs: 200,
			segmentTargetMs: 1000,
			frameRate: 30,
			x264Preset: 'ultrafast',
		});
		const result = await runHlsEncoder('ffmpeg', plan, packager, logger).done;
		if (result.code !== 0) throw new Error(`encoder run ${i} failed: ${result.stderr}`);
	}
	await packager.end();
}
