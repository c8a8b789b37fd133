import { describe, expect, it } from 'vitest';
import { buildRtpSenderPlan } from './buildRtpSenderPlan.js';

const audioTarget = { host: '127.0.0.1', rtpPort: 40000, rtcpPort: 40001, ssrc: 1111, payloadType: 100 };
const videoTarget = { host: '127.0.0.1', rtpPort: 40002, rtcpPort: 40003, ssrc: 2222, payloadType: 101 };

describe('buildRtpSenderPlan()', () => {
	it('sends a looped voice file as Opus RTP with parameters that match the producer', () => {
		const plan = buildRtpSenderPlan({ audio: { ...audioTarget, source: { file: '/tmp/voice of alice.wav' } } });
		expect(plan.args).toEqual([
			'-hide_banner', '-nostats', '-loglevel', 'warning', '-nostdin',
			'-re', '-stream_loop', '-1', '-i', '/tmp/voice of alice.wav',
			'-map', '0:a:0', '-c:a', 'libopus', '-ac', '2', '-ar', '48000', '-b:a', '64k', '-application', 'voip',
			'-ssrc', '1111', '-payload_type', '100', '-f', 'rtp', 'rtp://127.0.0.1:40000?rtcpport=40001&pkt_size=1200',
		]);
		expect(plan.audioRtpParameters).toEqual({
			codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2, parameters: { 'sprop-stereo': 1 } }],
			encodings: [{ ssrc: 1111 }],
		});
		expect(plan.videoRtpParameters).toBeUndefined();
	});

	it('maps the test pattern to input 0 and the tone to input 1 when both are sent', () => {
		const plan = buildRtpSenderPlan({
			video: { ...videoTarget, codec: 'H264', width: 640, height: 360, fps: 30 },
			audio: { ...audioTarget, source: { toneHz: 440 } },
			durationS: 10,
		});
		expect(plan.args).toContain('testsrc2=size=640x360:rate=30');
		expect(plan.args).toContain('sine=frequency=440:sample_rate=48000');
		expect(plan.args.join(' ')).toMatch(/-map 0:v:0 .* -map 1:a:0 /);
		expect(plan.args.join(' ')).toContain('-t 10');
		expect(plan.args.join(' ')).toContain('-c:v libx264');
		expect(plan.videoRtpParameters?.codecs[0]).toMatchObject({ mimeType: 'video/H264', payloadType: 101, parameters: { 'packetization-mode': 1 } });
	});

	it('shows a solid-colour camera when the pattern names a #rrggbb colour, and testsrc2 otherwise', () => {
		const camera = { ...videoTarget, codec: 'VP8' as const, width: 640, height: 360, fps: 24 };
		expect(buildRtpSenderPlan({ video: { ...camera, pattern: { colour: '#FF0080' } } }).args).toContain('color=c=0xff0080:size=640x360:rate=24');
		expect(buildRtpSenderPlan({ video: { ...camera, pattern: 'testsrc2' } }).args).toContain('testsrc2=size=640x360:rate=24');
	});

	it('encodes VP8 in one thread, so a paced camera does not spin on libvpx row threads', () => {
		const camera = { ...videoTarget, codec: 'VP8' as const, width: 640, height: 360, fps: 24 };
		expect(buildRtpSenderPlan({ video: camera }).args.join(' ')).toContain('-c:v libvpx -threads 1 -deadline realtime');
	});

	it('rejects a colour that is not #rrggbb instead of writing it into the lavfi graph', () => {
		const camera = { ...videoTarget, codec: 'VP8' as const, width: 640, height: 360, fps: 24 };
		for (const colour of ['red', '#ff0000:size=1x1,drawtext', '#fff', 'ff0000', '#ff00000', '#gg0000', '#ff0000\n', ' #ff0000']) {
			expect(() => buildRtpSenderPlan({ video: { ...camera, pattern: { colour } } }), colour).toThrow(/is not #rrggbb/);
		}
	});

	it('brackets IPv6 hosts in the RTP URL', () => {
		const plan = buildRtpSenderPlan({ audio: { ...audioTarget, host: '::1', source: { toneHz: 300 } } });
		expect(plan.args.at(-1)).toBe('rtp://[::1]:40000?rtcpport=40001&pkt_size=1200');
	});

	it('sends from the given local ports, for a restart whose transport has locked onto its predecessor\'s', () => {
		const plan = buildRtpSenderPlan({ audio: { ...audioTarget, localRtpPort: 51000, localRtcpPort: 51001, source: { toneHz: 300 } } });
		expect(plan.args.at(-1)).toBe('rtp://127.0.0.1:40000?rtcpport=40001&pkt_size=1200&localrtpport=51000&localrtcpport=51001');
		expect(() => buildRtpSenderPlan({ audio: { ...audioTarget, localRtpPort: -1, localRtcpPort: 2, source: { toneHz: 300 } } })).toThrow(RangeError);
	});

	it('rejects a plan with nothing to send', () => {
		expect(() => buildRtpSenderPlan({})).toThrow(/nothing to send/);
	});

	it('rejects non-integer numbers instead of writing them into ffmpeg arguments', () => {
		expect(() => buildRtpSenderPlan({ video: { ...videoTarget, codec: 'VP8', width: 1.5, height: 2, fps: 30 } })).toThrow(RangeError);
		expect(() => buildRtpSenderPlan({ audio: { ...audioTarget, ssrc: Number.NaN, source: { toneHz: 1 } } })).toThrow(RangeError);
	});
});
