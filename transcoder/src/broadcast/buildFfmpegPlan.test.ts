import { describe, expect, it } from 'vitest';
import { buildFfmpegPlan, displayName, type PlanIo } from './buildFfmpegPlan.js';
import { computeLayout } from './computeLayout.js';
import { defaultLadder, defaultLatency } from './ladder.js';

const hostile = `Eve'; [out] , drawtext=text=%{localtime}:x=0 \\ \n rm -rf / $(reboot) \`id\` "q"`;

function io(overrides: Partial<PlanIo> = {}): PlanIo {
	return {
		composite: true,
		sdpPath: '/tmp/tribune/job-1/stage.sdp',
		streams: new Map([
			['ada', { audio: 0, video: 1 }],
			['eve', { audio: 2 }],
		]),
		workDir: '/tmp/tribune/job-1',
		fontFile: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
		outputs: { '720p': 'unix:/tmp/tribune/job-1/720p.sock', '360p': 'unix:/tmp/tribune/job-1/360p.sock', audio: 'unix:/tmp/tribune/job-1/audio.sock' },
		...overrides,
	};
}

const layout = computeLayout(
	{
		speakers: [
			{ id: 'ada', name: 'Ada Lovelace', video: true, muted: false },
			{ id: 'eve', name: hostile, video: false, muted: true },
		],
		pinned: ['ada'],
		activeSpeakerId: 'ada',
	},
	{ width: 1280, height: 720 },
);

describe('buildFfmpegPlan()', () => {
	it('composites a pinned camera and an initials tile, mixes panned audio, and encodes the whole ladder (golden)', () => {
		const plan = buildFfmpegPlan(layout, defaultLadder, defaultLatency, io());
		expect(plan.filterGraph.split(';')).toEqual([
			// Every tile's box first, named per slot (slots by speaker id: ada 0, eve 1) so a live layout can move it.
			// Pinned row: 432 px tall, one 710×400 tile centred. Grid below: one 482×272 tile.
			'color=c=0x15171c:s=1280x720:r=25,format=yuv420p,drawbox@tile0=x=284:y=16:w=710:h=400:color=0x262a33:t=fill,drawbox@tile1=x=398:y=432:w=482:h=272:color=0x262a33:t=fill[bg]',
			// The camera's size fits its aspect ratio in the tile, as expressions scale evaluates again when the camera changes size.
			"[0:1]scale@cam0=w='if(lte(iw,16)*lte(ih,16),iw,max(2,trunc(min(710,400*iw/ih)/2)*2))':h='if(lte(iw,16)*lte(ih,16),ih,max(2,trunc(min(400,710*ih/iw)/2)*2))':eval=frame,setsar=1,fps=25[v0]",
			"[bg][v0]overlay@cam0=x='if(lte(overlay_w,16)*lte(overlay_h,16),-100,284+(710-overlay_w)/2)':y='if(lte(overlay_w,16)*lte(overlay_h,16),-100,16+(400-overlay_h)/2)':eof_action=repeat[c0]",
			// Initials inline (letters only), parked off the canvas on a slot showing a camera; labels blank until the
			// runner's first live layout names them.
			'[c0]drawtext@initials0=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf:expansion=none:fontsize=8:x=-100:y=-100:fontcolor=white@0:text=-,' +
				'drawtext@initials1=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf:expansion=none:fontsize=91:x=398+(482-tw)/2:y=432+(272-th)/2:fontcolor=white:text=EQ,' +
				'drawtext@name0=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf:expansion=none:text=-:fontcolor=white@0:box=1:boxcolor=black@0:fontsize=28:boxborderw=9:x=312:y=360,' +
				'drawtext@name1=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf:expansion=none:text=-:fontcolor=white@0:box=1:boxcolor=black@0:fontsize=27:boxborderw=9:x=425:y=650,' +
				'drawbox@active=x=284:y=16:w=710:h=400:color=0x6ee7a8:t=6,split=2[vs_720p][vs_360p]',
			'[vs_720p]null[vo_720p]',
			'[vs_360p]scale=640:360[vo_360p]',
			// Each voice's left and right gains are named volumes a live layout can change (pan takes no commands).
			'[0:0]aresample=48000:async=1000,aformat=sample_fmts=fltp:channel_layouts=mono,speechnorm=e=6.25:r=0.00001:l=1,asplit=2[al0][ar0]',
			'[al0]volume@panl0=0.7071[pl0]',
			'[ar0]volume@panr0=0.7071[pr0]',
			'[pl0][pr0]join=inputs=2:channel_layout=stereo:map=0.0-FL|1.0-FR,volume@mute0=1[a0]',
			'[0:2]aresample=48000:async=1000,aformat=sample_fmts=fltp:channel_layouts=mono,speechnorm=e=6.25:r=0.00001:l=1,asplit=2[al1][ar1]',
			'[al1]volume@panl1=0.7071[pl1]',
			'[ar1]volume@panr1=0.7071[pr1]',
			'[pl1][pr1]join=inputs=2:channel_layout=stereo:map=0.0-FL|1.0-FR,volume@mute1=0[a1]',
			'[a0][a1]amix=inputs=2:normalize=0:dropout_transition=0,alimiter=limit=0.89:level=disabled,asetpts=N/SR/TB+STARTPTS,aresample=async=1:first_pts=0,asplit=3[ao_720p][ao_360p][ao_audio]',
		]);
		const args = plan.args.join(' ');
		expect(args).toMatch(/^-hide_banner -nostdin .* -protocol_whitelist file,udp,rtp .* -f sdp -i \/tmp\/tribune\/job-1\/stage\.sdp -filter_complex /);
		// A camera changing size (filler pictures → a camera) is scaled, not a reason to rebuild the graph.
		expect(args).toContain(' -reinit_filter:v 0 ');
		expect(plan.outputs.map((o) => [o.rendition, o.url])).toEqual([
			['720p', 'unix:/tmp/tribune/job-1/720p.sock'],
			['360p', 'unix:/tmp/tribune/job-1/360p.sock'],
			['audio', 'unix:/tmp/tribune/job-1/audio.sock'],
		]);
		expect(args).toContain('-map [vo_720p] -c:v libx264 -preset veryfast -tune stillimage,zerolatency -profile:v main -pix_fmt yuv420p -bf 0 -g 25 -keyint_min 25 -sc_threshold 0 -force_key_frames expr:lte(n,25)*not(mod(n,5)) -b:v 2500k -maxrate 2500k -bufsize 1250k');
		// Video parts are cut by duration and at every keyframe, so GOP starts always begin a part (independent).
		expect(args).toContain('-map [ao_720p] -c:a aac -b:a 128k -ar 48000 -ac 2 -f mp4 -movflags +empty_moov+default_base_moof+skip_trailer+frag_keyframe -frag_duration 200000');
		expect(args).toContain('-map [ao_audio] -c:a aac -b:a 64k -ar 48000 -ac 2 -f mp4 -movflags +empty_moov+default_base_moof+skip_trailer -frag_duration 192000 -use_editlist 1 -flush_packets 1 unix:/tmp/tribune/job-1/audio.sock');
		expect(plan.renditions.map((r) => r.name)).toEqual(['720p', '360p', 'audio']);
	});

	it('keeps hostile names out of the argv and the filter graph (labels get their text over the control socket)', () => {
		const plan = buildFfmpegPlan(layout, defaultLadder, defaultLatency, io());
		for (const fragment of ['Eve', 'rm -rf', '%{localtime}', '$(reboot)', 'Ada', 'Lovelace']) {
			expect(plan.args.some((a) => a.includes(fragment))).toBe(false);
		}
		expect(plan.textFiles).toEqual([]);
		// Initials are drawn inline: letters and digits only, anything else a question mark.
		const odd = computeLayout({ speakers: [{ id: 'x', name: '!!!', video: false, muted: false }], pinned: [] }, { width: 1280, height: 720 });
		expect(buildFfmpegPlan(odd, defaultLadder, defaultLatency, io({ streams: new Map() })).filterGraph).toMatch(/drawtext@initials0=[^,]*:text=\?,/);
	});

	it('encodes only the audio rendition for an audio-only space, panning speakers apart', () => {
		const audioLayout = computeLayout(
			{ speakers: [{ id: 'ada', name: 'Ada', video: false, muted: false }, { id: 'eve', name: 'Eve', video: false, muted: false }], pinned: [] },
			{ width: 1280, height: 720 },
		);
		const plan = buildFfmpegPlan(audioLayout, defaultLadder, defaultLatency, io({ composite: false }));
		expect(plan.renditions.map((r) => r.name)).toEqual(['audio']);
		expect(plan.filterGraph).not.toMatch(/color=|drawtext|libx264/);
		expect(plan.args).not.toContain('libx264');
		expect(plan.textFiles).toEqual([]);
		// Ada on the left is louder in the left channel; Eve mirrors her.
		expect(plan.filterGraph).toContain('[al0]volume@panl0=0.8874[pl0];[ar0]volume@panr0=0.4610[pr0]');
		expect(plan.filterGraph).toContain('[al1]volume@panl1=0.4610[pl1];[ar1]volume@panr1=0.8874[pr1]');
	});

	it('fills an empty stage with silence so the broadcast timeline keeps going', () => {
		const empty = computeLayout({ speakers: [], pinned: [] }, { width: 1280, height: 720 });
		const plan = buildFfmpegPlan(empty, defaultLadder, defaultLatency, io({ composite: false, streams: new Map() }));
		expect(plan.filterGraph).toBe('[0:a]alimiter=limit=0.89:level=disabled,asetpts=N/SR/TB+STARTPTS,asplit=1[ao_audio]');
		expect(plan.input).toEqual({ url: 'anullsrc=r=48000:cl=stereo', options: ['-hide_banner', '-nostdin', '-loglevel', 'info', '-stats', '-stats_period', '1', '-re', '-f', 'lavfi'] });
		const video = buildFfmpegPlan(empty, defaultLadder, defaultLatency, io({ streams: new Map() }));
		expect(video.filterGraph).toMatch(/^color=c=0x15171c:s=1280x720:r=25,realtime,format=yuv420p\[bg\];\[bg\]drawbox@active=x=-100/);
	});

	it('binds the live control sockets on loopback when a control port is given', () => {
		const plan = buildFfmpegPlan(layout, defaultLadder, defaultLatency, io({ controlPort: 5555 }));
		expect(plan.filterGraph).toContain(',zmq=bind_address=tcp\\\\://127.0.0.1\\\\:5555,');
		expect(plan.filterGraph).toContain(',azmq=bind_address=tcp\\\\://127.0.0.1\\\\:5556,');
	});

	it('refuses paths that would need filter escaping, missing outputs and impossible timing', () => {
		expect(() => buildFfmpegPlan(layout, defaultLadder, defaultLatency, io({ workDir: "/tmp/it's" }))).toThrow(/workDir/);
		expect(() => buildFfmpegPlan(layout, defaultLadder, defaultLatency, io({ fontFile: '/fonts/a:b.ttf' }))).toThrow(/fontFile/);
		expect(() => buildFfmpegPlan(layout, defaultLadder, defaultLatency, io({ outputs: { audio: 'x' } }))).toThrow(/no output for rendition 720p/);
		expect(() => buildFfmpegPlan(layout, defaultLadder, { fps: 30, partTargetMs: 200, segmentTargetMs: 1010 }, io())).toThrow(/whole number of frames/);
		expect(() => buildFfmpegPlan(layout, defaultLadder, { fps: 25, partTargetMs: 100, segmentTargetMs: 1000 }, io())).toThrow(/partTargetMs/);
		expect(() => buildFfmpegPlan(layout, [{ name: 'A B', audioKbps: 64 }], defaultLatency, io())).toThrow(/must match/);
	});
});

describe('displayName()', () => {
	it('flattens control characters and line breaks and shortens long names', () => {
		expect(displayName('  Ada\n\tLovelace\u0007 ', false)).toBe('Ada Lovelace');
		expect(displayName('x'.repeat(40), false)).toBe(`${'x'.repeat(31)}…`);
		expect(displayName('\n\n', true)).toBe('Speaker (muted)');
	});
});
